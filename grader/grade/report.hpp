#pragma once
/// @file report.hpp
/// @brief The grading report: one text block per check, the score line,
/// the --list text and the Gradescope results.json. Pure: any thread.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "registry.hpp"

namespace csd::grade {

/// The outcome of one check.
struct CheckResult {
    std::string id = {};    ///< Check id ("bytes").
    int points = 0;         ///< Points earned.
    int max_points = 0;     ///< Points possible.
    bool passed = false;    ///< Verdict.
    std::string saw = {};   ///< What was seen (failures; may span lines).
    std::string hint = {};  ///< What to do about it (failures).
    double seconds = 0;     ///< How long it took.
    double deadline = 0;    ///< Its own deadline in seconds (scaled), 0 when it had none.
    bool skipped = false;   ///< Could not observe what it needs (reason in saw); not scored.
};

/// The text for one check: the verdict line, then for a failure the
/// indented `saw:` and `hint:` lines; the hint names the handout section.
[[nodiscard]] std::string format_result(const CheckResult& result, const LabInfo& lab);

/// `Score: N/M`, followed by the skipped checks when there are any.
[[nodiscard]] std::string format_score(const std::vector<CheckResult>& results);

/// Earned points (skipped checks left out).
[[nodiscard]] int score(const std::vector<CheckResult>& results);
/// Possible points (skipped checks left out).
[[nodiscard]] int max_score(const std::vector<CheckResult>& results);

/// The `output` text of a check in results.json: saw and hint.
[[nodiscard]] std::string result_output(const CheckResult& result, const LabInfo& lab);

/// Gradescope results.json: {"score", "max_score", "execution_time" (whole
/// seconds), "visibility", "tests": [{"name", "score", "max_score",
/// "status" ("passed" or "failed"), "output", "visibility"}]}. A hidden
/// check (hidden.hpp) has @p hidden_visibility ("hidden", "after_due_date",
/// "after_published" or "visible"), every other check "visible". A skipped
/// check has no status, score and max_score 0, and its reason in output.
/// Each test also has "extra_data": {"seconds", "deadline_seconds"}: how
/// long the check took and its own deadline (the flakiness run reads them).
[[nodiscard]] nlohmann::json gradescope_json(
    const std::vector<CheckResult>& results, const LabInfo& lab,
    std::string_view hidden_visibility = "after_published");

/// Autolab's autoresult: {"scores": {"check-id": points, ...}}, one entry
/// per scored check (skipped checks are left out, so Autolab leaves those
/// problems ungraded). Autolab reads it from the last line of the output;
/// its problem names must be the check ids.
[[nodiscard]] nlohmann::json autolab_json(const std::vector<CheckResult>& results);

/// The --list text: every lab with its checks and points (or "not yet
/// available"); only @p only when not empty. Hidden checks (hidden.hpp) are
/// left out, with their points, unless @p with_hidden (then marked [hidden]).
[[nodiscard]] std::string format_list(std::string_view only = {}, bool with_hidden = false);

}  // namespace csd::grade
