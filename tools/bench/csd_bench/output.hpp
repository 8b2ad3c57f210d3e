#pragma once
/// @file output.hpp
/// @brief What csd-bench writes: the terminal table, the CSV and the JSON.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results.hpp"

namespace csd::bench {

/// The columns of the CSV, in order (docs/contract.md, csd-bench).
[[nodiscard]] const std::vector<std::string>& csv_columns();

/// Prints @p rows as a table on stdout, one block per profile.
void print_table(const std::vector<Row>& rows);

/// Writes @p rows to @p path as CSV: a header line of csv_columns(), then
/// one line per row. Throws std::runtime_error when it cannot.
void write_csv(const std::vector<Row>& rows, const std::string& path);

/// Writes {"run": @p run, "rows": [...]} to @p path (the row fields by
/// the CSV's column names; NaN ratios as null). Throws std::runtime_error.
void write_json(const std::vector<Row>& rows, const nlohmann::json& run, const std::string& path);

}  // namespace csd::bench
