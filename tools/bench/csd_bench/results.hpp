#pragma once
/// @file results.hpp
/// @brief From repeated runs to one row per server and profile: medians
/// and ratios to the iterative server of the same run. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "load.hpp"
#include "server_process.hpp"

namespace csd::bench {

/// One run of one server under one profile. Plain data.
struct Sample {
    std::string server;         ///< BenchServer::name.
    std::string profile;        ///< Profile::name.
    std::uint64_t connections;  ///< Connections the load made.
    ServerUsage usage;          ///< The server's cost.
    LoadResult load;            ///< What the client saw.
};

/// The row of one server and profile: medians over the repeats, and
/// ratios to the row of the server named "iterative" with the same
/// profile (NaN when there is none). Plain data.
struct Row {
    std::string server;                  ///< Server name.
    std::string profile;                 ///< Profile name.
    std::uint64_t connections = 0;       ///< Connections per run.
    int repeats = 0;                     ///< Runs the medians are taken over.
    double server_cpu_s = 0;             ///< Server CPU (user + system), whole run.
    double cpu_per_conn_us = 0;          ///< server_cpu_s per connection, in µs.
    double overhead_vs_iterative = 0;    ///< cpu_per_conn_us / iterative's.
    double overhead_us_per_conn = 0;     ///< cpu_per_conn_us - iterative's (UNP's process control).
    double conn_per_s = 0;               ///< Connections per second of wall time.
    double conn_per_s_vs_iterative = 0;  ///< conn_per_s / iterative's.
    double p50_ms = 0;                   ///< Median latency, connect to last byte.
    double p99_ms = 0;                   ///< 99th percentile latency.
    double p99_vs_iterative = 0;         ///< p99_ms / iterative's.
    double peak_rss_kib = 0;             ///< Largest single process (ru_maxrss).
    double peak_rss_vs_iterative = 0;    ///< peak_rss_kib / iterative's.
    double client_cpu_s = 0;             ///< CPU of the load client.
    /// The client used more CPU than the server, and no connection failed
    /// (conn/s then measure the client).
    bool client_bound = false;
    bool count_only = false;   ///< Reply content not checked.
    std::uint64_t failed = 0;  ///< Failed connections, all repeats together.
    std::string note;          ///< First failure, or an unclean server exit.
};

/// Groups @p samples by profile and server (each in order of first
/// appearance), takes medians, then the ratios to "iterative".
/// @p count_only lists the servers benched count-only.
[[nodiscard]] std::vector<Row> summarize_samples(const std::vector<Sample>& samples,
                                                 const std::vector<std::string>& count_only);

}  // namespace csd::bench
