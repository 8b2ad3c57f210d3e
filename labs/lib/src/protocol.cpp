#include "csd/protocol.hpp"

#include <algorithm>
#include <array>

namespace csd {
namespace {

// Replies are sent from this buffer: 26 * 2521 bytes (~64 KiB) of the
// alphabet, so any reply offset starts at pattern()[offset % 26].
constexpr std::size_t pattern_periods = 2521;
constexpr std::size_t pattern_size = 26 * pattern_periods;
// The longest view output() hands out (a whole number of... anything <= pattern_size - 25).
constexpr std::size_t chunk_size = pattern_size - 26;
// Replies shorter than this are copied together into one batch, so that
// many pipelined small requests do not cost one write each.
constexpr std::size_t batch_limit = 16 * 1024;

const std::array<char, pattern_size>& pattern() {
    static const auto bytes = [] {
        std::array<char, pattern_size> a{};
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = reply_byte(i);
        return a;
    }();
    return bytes;
}

}  // namespace

std::uint64_t parse_request(std::string_view line) noexcept {
    if (line.size() > max_line_bytes) return 0;  // a '\r' counts, as in Session::feed()
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return 0;
    std::uint64_t n = 0;
    for (char c : line) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > max_request_bytes) return 0;  // also stops overflow of long digit runs
    }
    return n;
}

std::size_t Session::feed(std::string_view bytes) {
    const std::size_t offered = bytes.size();
    while (!bytes.empty() && !malformed_ && !eof_ && replies_.size() < max_queued_requests) {
        const auto nl = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, nl);
        if (line_.size() + piece.size() > max_line_bytes) {
            malformed_ = true;  // too long, newline or not
            break;
        }
        if (nl == std::string_view::npos) {
            line_.append(piece);
            bytes = {};
            break;
        }
        line_.append(piece);
        const std::uint64_t n = parse_request(line_);
        line_.clear();
        if (n == 0) {
            malformed_ = true;
            break;
        }
        replies_.push_back(n);
        bytes.remove_prefix(nl + 1);
    }
    if (malformed_ || eof_) {
        line_.clear();
        return offered;  // dropped: nothing after a malformed line or EOF counts
    }
    return offered - bytes.size();
}

void Session::end_of_input() noexcept {
    eof_ = true;
    line_.clear();
}

std::string_view Session::output() {
    if (batch_pos_ < batch_.size()) return std::string_view(batch_).substr(batch_pos_);
    if (replies_.empty()) return {};
    const std::uint64_t left = replies_.front() - front_offset_;
    if (left >= batch_limit || replies_.size() == 1) {
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk_size));
        return {pattern().data() + front_offset_ % 26, len};
    }
    // Several short replies: copy them into one batch and take them off the queue.
    batch_.clear();
    batch_pos_ = 0;
    while (!replies_.empty() && batch_.size() < batch_limit) {
        const std::uint64_t rest = replies_.front() - front_offset_;
        const std::size_t room = batch_limit - batch_.size();
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(rest, room));
        batch_.append(pattern().data() + front_offset_ % 26, take);
        front_offset_ += take;
        if (front_offset_ == replies_.front()) {
            replies_.pop_front();
            front_offset_ = 0;
        }
    }
    return batch_;
}

void Session::consume(std::size_t n) {
    if (batch_pos_ < batch_.size()) {
        batch_pos_ += std::min(n, batch_.size() - batch_pos_);
        if (batch_pos_ == batch_.size()) {
            batch_.clear();
            batch_pos_ = 0;
        }
        return;
    }
    if (replies_.empty()) return;
    front_offset_ += n;
    if (front_offset_ >= replies_.front()) {
        replies_.pop_front();
        front_offset_ = 0;
    }
}

bool Session::wants_input() const noexcept {
    return !malformed_ && !eof_ && replies_.size() < max_queued_requests;
}

std::size_t Session::input_room() const noexcept {
    if (!wants_input()) return 0;
    return 2 * (max_queued_requests - replies_.size()) - 1;
}

std::uint64_t Session::reply_offset() const noexcept {
    const bool batch_pending = batch_pos_ < batch_.size();
    return replies_.empty() || batch_pending ? 0 : front_offset_;
}

std::uint64_t Session::reply_left() const noexcept {
    const bool batch_pending = batch_pos_ < batch_.size();
    return replies_.empty() || batch_pending ? 0 : replies_.front() - front_offset_;
}

bool Session::has_output() const noexcept {
    return batch_pos_ < batch_.size() || !replies_.empty();
}

bool Session::finished() const noexcept {
    return (malformed_ || eof_) && !has_output();
}

}  // namespace csd
