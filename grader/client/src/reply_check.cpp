#include "reply_check.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

#include "csd/protocol.hpp"

namespace csd::client {

bool ReplyCheck::feed(std::string_view bytes) {
    if (failed()) return false;
    if (bytes.empty()) return true;
    if (eof_) {
        fail("bytes arrived after the end of the connection");
        return false;
    }
    const std::uint64_t room = expected_ - received_;
    const std::string_view reply =
        bytes.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size())));
    if (count_only_) {  // the number of bytes only; what comes after them is ignored
        received_ += reply.size();
        return true;
    }
    const std::size_t bad = csd::first_mismatch(reply, received_);
    if (bad < reply.size()) {
        const std::uint64_t index = received_ + bad;
        received_ = index;
        fail(fmt::format("byte {} is {}, expected {}", index, describe_byte(reply[bad]),
                         describe_byte(csd::reply_byte(index))));
        return false;
    }
    received_ += reply.size();
    if (reply.size() < bytes.size()) {
        fail(fmt::format("server sent more than {} bytes", expected_));
        return false;
    }
    return true;
}

void ReplyCheck::end_of_input() {
    if (failed() || eof_) return;
    eof_ = true;
    if (received_ < expected_) fail(fmt::format("got {}, then EOF", progress()));
}

void ReplyCheck::fail(std::string message) {
    if (failed()) return;
    error_ = message.empty() ? std::string("failed") : std::move(message);
}

std::string ReplyCheck::progress() const {
    return fmt::format("{} of {} bytes", received_, expected_);
}

std::string describe_byte(char byte) {
    const auto code = static_cast<unsigned char>(byte);
    if (code >= 0x20 && code < 0x7f && byte != '\'' && byte != '\\')
        return fmt::format("'{}'", byte);
    return fmt::format("'\\x{:02x}'", code);
}

}  // namespace csd::client
