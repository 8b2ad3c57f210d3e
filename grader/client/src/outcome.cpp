#include "outcome.hpp"

#include <fmt/core.h>

#include <cstring>

namespace csd::client {
namespace {

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

}  // namespace

Outcome outcome_of(const ReplyCheck& check, Clock::time_point start, Clock::time_point last_byte) {
    Outcome outcome;
    outcome.ok = check.finished();
    if (outcome.ok) {
        outcome.latency_ns = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(last_byte - start).count());
    } else {
        outcome.error = check.failed() ? check.error() : std::string("unfinished reply");
    }
    return outcome;
}

std::string call_failed(const char* call, int error) {
    return fmt::format("{}: {}", call, std::strerror(error));
}

std::string connect_timed_out(Clock::duration timeout) {
    return fmt::format("timed out after {:g} s while connecting", seconds(timeout));
}

std::string reply_timed_out(const ReplyCheck& check, Clock::duration timeout) {
    if (check.complete())
        return fmt::format("all {} bytes arrived, but the server did not close within {:g} s",
                           check.expected(), seconds(timeout));
    return fmt::format("timed out after {:g} s with {}", seconds(timeout), check.progress());
}

std::string reset_during(const ReplyCheck& check) {
    if (check.complete())
        return fmt::format("connection reset after all {} bytes (expected a clean close)",
                           check.expected());
    return fmt::format("connection reset after {}", check.progress());
}

}  // namespace csd::client
