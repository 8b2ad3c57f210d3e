#pragma once
/// @file output.hpp
/// @brief What csd-bench writes: the terminal table, the CSV and the JSON.

#include <string>
#include <utility>
#include <vector>

#include "results.hpp"

namespace csd::bench {

/// The columns of the CSV, in order (docs/contract.md, csd-bench).
[[nodiscard]] const std::vector<std::string>& csv_columns();

/// Prints @p rows as a table on stdout, one block per profile.
void print_table(const std::vector<Row>& rows);

/// Writes @p rows to @p path as CSV: a header line of csv_columns(), then
/// one line per row. Throws std::runtime_error when it cannot.
void write_csv(const std::vector<Row>& rows, const std::string& path);

/// The conditions of a run, for the record. Plain data.
struct RunInfo {
    std::string date;                   ///< "2026-11-27 08:09 UTC".
    std::string cpu;                    ///< Model name from /proc/cpuinfo.
    long cpus = 0;                      ///< Online CPUs.
    std::string kernel;                 ///< "Linux 6.1.0".
    std::string load_average_before;    ///< /proc/loadavg's three figures.
    std::string load_average_after;     ///< The same at the end.
    std::uint64_t connections = 0;      ///< --connections.
    int repeat = 0;                     ///< --repeat.
    std::vector<std::string> profiles;  ///< --profile.
    double seconds = 0;                 ///< Wall time of the run.
    std::vector<std::string> left_out;  ///< Servers that did not start or were stopped.
    /// Each server's command line (see command_template()).
    std::vector<std::pair<std::string, std::vector<std::string>>> commands;
};

/// Writes {"run": @p run, "rows": [...]} to @p path (the row fields by
/// the CSV's column names; NaN ratios as null). Throws std::runtime_error.
void write_json(const std::vector<Row>& rows, const RunInfo& run, const std::string& path);

}  // namespace csd::bench
