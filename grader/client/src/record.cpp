#include "record.hpp"

#include <fmt/core.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "csd/error.hpp"

namespace csd::client {
namespace {

/// Parses a decimal number at the start of @p text and the one space after it.
template <typename T>
std::optional<T> take_number(std::string_view& text) {
    T value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (!text.empty()) {
        if (text.front() != ' ') return std::nullopt;
        text.remove_prefix(1);
    }
    return value;
}

}  // namespace

std::string encode(const Record& record) {
    if (record.ok)
        return fmt::format("ok {} {} {}\n", record.child, record.connection, record.latency_ns);
    std::string message = record.message;
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::replace(message.begin(), message.end(), '\r', ' ');
    return fmt::format("fail {} {} {}\n", record.child, record.connection, message);
}

std::optional<Record> decode(std::string_view line) {
    Record record;
    if (line.starts_with("ok ")) {
        record.ok = true;
        line.remove_prefix(3);
    } else if (line.starts_with("fail ")) {
        line.remove_prefix(5);
    } else {
        return std::nullopt;
    }
    const auto child = take_number<int>(line);
    const auto connection = take_number<std::uint64_t>(line);
    if (!child || !connection) return std::nullopt;
    record.child = *child;
    record.connection = *connection;
    if (record.ok) {
        const auto latency = take_number<std::uint64_t>(line);
        if (!latency || !line.empty()) return std::nullopt;
        record.latency_ns = *latency;
    } else {
        record.message = std::string(line);
    }
    return record;
}

RecordWriter::~RecordWriter() {
    try {
        flush();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the parent is gone, nobody to tell
    }
}

void RecordWriter::add(const Record& record) {
    std::string line = encode(record);
    if (line.size() > PIPE_BUF) {  // keep every line atomic: cut overlong messages
        line.resize(PIPE_BUF - 1);
        line.back() = '\n';
    }
    if (pending_.size() + line.size() > PIPE_BUF) flush();
    pending_ += line;
}

void RecordWriter::flush() {
    std::size_t done = 0;
    while (done < pending_.size()) {
        const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
        if (n == -1 && errno == EINTR) continue;
        done += static_cast<std::size_t>(csd::check(n, "write"));
    }
    pending_.clear();
}

}  // namespace csd::client
