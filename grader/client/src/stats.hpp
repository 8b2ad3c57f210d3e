#pragma once
/// @file stats.hpp
/// @brief Latency percentiles, pure and unit-testable.

#include <cstdint>
#include <vector>

namespace csd::client {

/// The nearest-rank @p percent percentile (0 < percent <= 100) of
/// @p sorted, which must be sorted ascending and not empty: the smallest
/// value with at least @p percent % of the values at or below it.
[[nodiscard]] std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double percent);

/// Latency summary of a set of connections, in nanoseconds.
struct LatencySummary {
    std::uint64_t p50 = 0;  ///< Median.
    std::uint64_t p90 = 0;  ///< 90th percentile.
    std::uint64_t p99 = 0;  ///< 99th percentile.
    std::uint64_t max = 0;  ///< Slowest connection.
};

/// Summarizes @p latencies (any order; sorted in place). All zero when empty.
[[nodiscard]] LatencySummary summarize(std::vector<std::uint64_t>& latencies);

/// The share (0 to 1) of the CPU time the client could use that it did
/// use: @p cpu_s seconds of CPU over @p elapsed_s seconds on
/// min(@p processes, @p cpus) CPUs. 0 when @p elapsed_s is 0.
[[nodiscard]] double client_busy_share(double cpu_s, double elapsed_s, int processes, int cpus);

/// At or above this share, the client was busy enough to be the bottleneck.
inline constexpr double client_bound_share = 0.8;

}  // namespace csd::client
