#include "stats.hpp"

#include <algorithm>
#include <cmath>

namespace csd::client {

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double percent) {
    if (sorted.empty()) return 0;
    const double rank = std::ceil(percent / 100.0 * static_cast<double>(sorted.size()));
    std::size_t index = rank <= 1.0 ? 0 : static_cast<std::size_t>(rank) - 1;
    index = std::min(index, sorted.size() - 1);
    return sorted[index];
}

double client_busy_share(double cpu_s, double elapsed_s, int processes, int cpus) {
    const int usable = std::max(1, std::min(processes, cpus));
    if (elapsed_s <= 0) return 0;
    return std::min(1.0, cpu_s / (elapsed_s * usable));
}

LatencySummary summarize(std::vector<std::uint64_t>& latencies) {
    if (latencies.empty()) return {};
    std::sort(latencies.begin(), latencies.end());
    return {percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99),
            latencies.back()};
}

}  // namespace csd::client
