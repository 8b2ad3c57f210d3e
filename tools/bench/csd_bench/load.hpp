#pragma once
/// @file load.hpp
/// @brief The loads (profiles) and one run of csd-client's library code
/// against a server, with the client's own CPU time.

#include <cstdint>
#include <string>
#include <vector>

namespace csd::bench {

/// One load: how csd-client is run (its -c, -t, -b and --concurrent).
struct Profile {
    std::string name;              ///< unp, concurrent, bulk.
    int children = 1;              ///< Client processes.
    std::uint64_t per_child = 1;   ///< -t: connections per child (rounds with concurrent).
    std::uint64_t bytes = 4000;    ///< -b: bytes per request.
    std::uint64_t concurrent = 0;  ///< --concurrent: connections open at once per child.
    double timeout_s = 10;         ///< --timeout of each connection.

    /// Connections in all.
    [[nodiscard]] std::uint64_t connections() const noexcept {
        return static_cast<std::uint64_t>(children) * per_child *
               (concurrent == 0 ? 1 : concurrent);
    }
};

/// The profile called @p name, scaled to about @p connections connections:
///  - unp: 5 processes, connections/5 each one after another, 4,000 bytes (UNP Fig. 30.1);
///  - concurrent: one process, min(connections, 1000) open at once, 4,000 bytes;
///  - bulk: 2 processes, 2 connections each, 64 MiB replies (never scaled up).
/// Throws std::invalid_argument for another name.
[[nodiscard]] Profile make_profile(const std::string& name, std::uint64_t connections);

/// What one load run measured.
struct LoadResult {
    double elapsed_s = 0;      ///< Wall time of the whole load.
    std::uint64_t ok = 0;      ///< Connections whose reply was right (or complete, count-only).
    std::uint64_t failed = 0;  ///< The others.
    double p50_ms = 0;         ///< Median latency (connect to last byte) of the ok ones.
    double p99_ms = 0;         ///< 99th percentile.
    /// User + system CPU of the client processes and of csd-bench reading them.
    double client_cpu_s = 0;
    std::string first_failure;  ///< The first failure line, if any.
    bool stopped = false;       ///< The deadline of the whole load passed: it was stopped.
};

/// Runs @p profile against 127.0.0.1:@p port with csd-client's code
/// (forked children, the report pipe), stopping it after @p deadline_s
/// seconds (alarm(): the connections not done by then fail, `stopped` is
/// set). Needs csd::route_signals({SIGINT, SIGTERM, SIGALRM}) done once
/// before; sets @p interrupted when SIGINT or SIGTERM came.
[[nodiscard]] LoadResult run_load(const Profile& profile, int port, bool count_only,
                                  unsigned deadline_s, bool& interrupted);

}  // namespace csd::bench
