#include "report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

#include "stats.hpp"

namespace csd::client {
namespace {

double milliseconds(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

}  // namespace

void print_failures(const Tally& tally) {
    if (tally.failed() == 0) return;
    for (const auto& line : tally.shown()) fmt::print(stderr, "{}\n", line);
    if (tally.failure_lines() > tally.shown().size())
        fmt::print(stderr, "... and {} more failures\n",
                   tally.failure_lines() - tally.shown().size());
    fmt::print(stderr, "csd-client: {} of {} connections failed\n", tally.failed(), tally.total());
}

void print_client_cpu(double cpu_s, std::chrono::steady_clock::duration elapsed, int processes,
                      int cpus) {
    const double share =
        client_busy_share(cpu_s, std::chrono::duration<double>(elapsed).count(), processes, cpus);
    const int usable = std::max(1, std::min(processes, cpus));
    fmt::print("client CPU: {:.3f} s, {:.0f} % of what {} {}{}\n", cpu_s, share * 100, usable,
               usable == 1 ? "CPU allows" : "CPUs allow",
               share >= client_bound_share ? ": the client may be the bottleneck" : "");
    std::fflush(stdout);
}

void print_summary(Tally& tally, std::chrono::steady_clock::duration elapsed) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    const auto done = static_cast<double>(tally.reported());
    fmt::print("connections: {} total, {} ok, {} failed\n", tally.total(), tally.ok(),
               tally.failed());
    fmt::print("elapsed: {:.3f} s, {:.1f} connections/s\n", seconds,
               seconds > 0 ? done / seconds : 0.0);
    if (tally.latencies().empty()) {
        fmt::print("latency: no exact connection\n");
    } else {
        const LatencySummary latency = summarize(tally.latencies());
        fmt::print(
            "latency (connect to last byte): p50 {:.3f} ms, p90 {:.3f} ms, p99 {:.3f} ms, "
            "max {:.3f} ms\n",
            milliseconds(latency.p50), milliseconds(latency.p90), milliseconds(latency.p99),
            milliseconds(latency.max));
    }
    std::fflush(stdout);
}

}  // namespace csd::client
