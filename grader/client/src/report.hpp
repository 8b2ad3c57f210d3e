#pragma once
/// @file report.hpp
/// @brief What csd-client prints at the end.

#include <chrono>

#include "tally.hpp"

namespace csd::client {

/// Prints the failure lines kept by @p tally on stderr, then
/// `... and N more failures` when some were not kept, then
/// `csd-client: F of T connections failed`. Prints nothing when all were exact.
void print_failures(const Tally& tally);

/// Prints the summary on stdout:
///
///     connections: 1000 total, 1000 ok, 0 failed
///     elapsed: 0.214 s, 4672.9 connections/s
///     latency (connect to last byte): p50 0.154 ms, p90 0.231 ms, p99 0.612 ms, max 1.903 ms
///
/// The latency line covers the exact connections only (`latency: no exact
/// connection` when there is none). Sorts the tally's latencies.
void print_summary(Tally& tally, std::chrono::steady_clock::duration elapsed);

/// Prints the client's own CPU time (@p cpu_s, user + system of every
/// process) and, when it kept busy at least client_bound_share of the
/// CPUs it could use (@p processes processes, @p cpus CPUs), that it may
/// be the bottleneck:
///
///     client CPU: 0.412 s, 91 % of what 2 CPUs allow: the client may be the bottleneck
void print_client_cpu(double cpu_s, std::chrono::steady_clock::duration elapsed, int processes,
                      int cpus);

}  // namespace csd::client
