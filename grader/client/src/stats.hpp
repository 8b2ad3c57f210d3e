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

}  // namespace csd::client
