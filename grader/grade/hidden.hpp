#pragma once
/// @file hidden.hpp
/// @brief Hidden checks: instructor-only checks that the student release
/// does not carry.
///
/// Their sources live in grader/grade/hidden/ (left out by `./csd release`).
/// When that directory is there at configure time (and CSD_HIDDEN_CHECKS is
/// ON), its hidden_checks.cpp defines hidden_checks(); otherwise
/// no_hidden_checks.cpp defines it as an empty table, and the grader knows
/// no hidden check at all, not even its id. The registry adds each hidden
/// check to its lab's list of checks (registry.hpp), so it runs, scores and
/// reports like any other check; `--list` leaves it out unless asked
/// (`--list --hidden`), so the course text never names it.
/// Everything here is immutable after first use: any thread.

#include <string_view>
#include <vector>

#include "registry.hpp"

namespace csd::grade {

/// One hidden check and the lab it joins.
struct HiddenCheck {
    std::string_view lab;     ///< Lab id whose checks it joins.
    std::string_view before;  ///< Runs right before this check of the lab; empty: last.
    int points = 0;           ///< Its points in that lab; 0: the lab's usual rule (scoring.hpp).
    CheckInfo check = {};     ///< Id, own points, the check itself, summary, hint.
};

/// Every hidden check this grader was built with (empty in the student release).
[[nodiscard]] const std::vector<HiddenCheck>& hidden_checks();

/// The hidden check @p check of lab @p lab, or nullptr.
[[nodiscard]] const HiddenCheck* find_hidden_check(std::string_view lab, std::string_view check);

/// True when @p check is a hidden check (of any lab).
[[nodiscard]] bool is_hidden_check(std::string_view check);

}  // namespace csd::grade
