#pragma once
/// @file cork_samples.hpp
/// @brief What the cork lab's segments and uncork checks share: small
/// replies asked for one at a time, each seen by the grader's own socket
/// (TCP_INFO: the segments that brought it) and timed. Main thread only.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"

namespace csd::grade::cork {

/// The clock the samples are timed with.
using Clock = std::chrono::steady_clock;

/// One small reply as the grader saw it.
struct Sample {
    std::uint32_t segments = 0;  ///< segments with data that brought it
    Clock::duration latency{};   ///< from the request sent to the last byte read
};

/// @p count requests for @p size bytes on one connection, one at a time:
/// how each reply arrived. Skips the check when the kernel does not count
/// the segments received (TCP_INFO too old).
std::vector<Sample> sample_replies(Context& ctx, int count, std::uint64_t size);

/// "2, 2, 1, ..." or "240 ms, 236 ms, ..." for messages: @p show of each sample.
template <typename Show>
std::string list(const std::vector<Sample>& samples, Show show) {
    std::string text;
    for (const Sample& s : samples) text += (text.empty() ? "" : ", ") + show(s);
    return text;
}

/// The small replies each check asks for.
constexpr int samples_taken = 10;
/// How many of them must be right: a stray segment now and then is not the server's doing.
constexpr int samples_needed = 8;

}  // namespace csd::grade::cork
