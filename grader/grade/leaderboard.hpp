#pragma once
/// @file leaderboard.hpp
/// @brief `csd-grade --leaderboard`: how fast the graded server is, beside
/// the reference solution, measured in the same run (docs/contract.md,
/// section 4). Never part of the score.
///
/// Each server (the graded one, then the reference when there is one) is
/// started on its own, as the grader starts it, and loaded by csd-client
/// (`-c 4 -t 500 -b 4000`: 2,000 connections) three times; the figures are
/// the medians. Server CPU is what the server's whole process tree used
/// from its start to its end (the grader's RUSAGE_CHILDREN, which collects
/// every reaped descendant, minus csd-client's own): children and threads
/// included, to the microsecond. Main thread only.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "registry.hpp"

namespace csd::grade {

/// What one server did under the leaderboard's load (medians of the runs).
struct SpeedFigures {
    double cpu_us_per_connection = 0;   ///< Server CPU (user + system) per connection, µs.
    double connections_per_second = 0;  ///< Connections per second of wall time.
    double peak_rss_mib = 0;            ///< Largest VmRSS of the server's tree seen, MiB.
    int runs = 0;                       ///< Runs measured.
};

/// Measures the server @p program of lab @p lab (its default mode); a
/// problem (it did not start, a load failed) is in @p problem and the
/// result is nullopt.
[[nodiscard]] std::optional<SpeedFigures> measure_speed(const LabInfo& lab,
                                                        const std::string& program,
                                                        std::string& problem);

/// Gradescope's `leaderboard` list for @p graded, with the ratios to
/// @p reference when there is one: server CPU per connection (lower is
/// better), connections/s (higher), peak RSS (lower), and CPU against the
/// reference.
[[nodiscard]] nlohmann::json leaderboard_json(const SpeedFigures& graded,
                                              const std::optional<SpeedFigures>& reference);

/// The text csd-grade prints: a few lines, the figures of both servers.
[[nodiscard]] std::string leaderboard_text(const SpeedFigures& graded,
                                           const std::optional<SpeedFigures>& reference);

}  // namespace csd::grade
