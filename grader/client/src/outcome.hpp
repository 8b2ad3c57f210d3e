#pragma once
/// @file outcome.hpp
/// @brief The result of one connection and the messages that explain a failure.

#include <chrono>
#include <cstdint>
#include <string>

#include "reply_check.hpp"

namespace csd::client {

/// The clock of deadlines and latencies.
using Clock = std::chrono::steady_clock;

/// How one connection went. Plain data.
struct Outcome {
    bool ok = false;               ///< The reply was exact and the server closed cleanly.
    std::uint64_t latency_ns = 0;  ///< Connect to last reply byte (ok only).
    std::string error;             ///< Why it failed (not ok only).
};

/// The outcome @p check came to; @p start and @p last_byte give the latency.
[[nodiscard]] Outcome outcome_of(const ReplyCheck& check, Clock::time_point start,
                                 Clock::time_point last_byte);

/// "socket: Too many open files", "connect: Connection refused"...
[[nodiscard]] std::string call_failed(const char* call, int error);
/// The deadline passed before the connection was established.
[[nodiscard]] std::string connect_timed_out(Clock::duration timeout);
/// The deadline passed while waiting for the reply or for the server to close.
[[nodiscard]] std::string reply_timed_out(const ReplyCheck& check, Clock::duration timeout);
/// The server reset the connection (or it vanished) during the exchange.
[[nodiscard]] std::string reset_during(const ReplyCheck& check);

}  // namespace csd::client
