#pragma once
/// @file summary.hpp
/// @brief One student's result, read from the grader's output, and the
/// batch's CSV and JSON summaries. Pure: any thread.

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csd::batch {

/// How far a submission got.
enum class Status {
    built,         ///< Built and graded (whatever its score).
    build_error,   ///< Did not compile or link (or its sources are missing).
    grader_error,  ///< csd-grade could not grade it (exit status 2, no results).
    timeout,       ///< The grader outlived the per-student time limit and was killed.
};

/// "built", "build-error", "grader-error", "timeout".
[[nodiscard]] std::string_view status_name(Status status);

/// The lab's columns: its checks (those graded) with their points.
struct LabColumns {
    std::string lab = {};  ///< Lab id.
    std::vector<std::pair<std::string, int>> checks =
        {};  ///< Check id and points, in grading order.
    /// Sum of the checks' points.
    [[nodiscard]] int max_score() const;
};

/// One student's result.
struct StudentResult {
    std::string student = {};                ///< Name (the folder entry).
    Status status = Status::build_error;     ///< How far it got.
    int score = 0;                           ///< Points earned.
    int max_score = 0;                       ///< Points possible (skipped checks left out).
    std::map<std::string, int> points = {};  ///< Points per check id that was scored.
    double seconds = 0;                      ///< Build and grading time.
    std::string message = {};                ///< For a failure: the first line that says why.
};

/// Fills score, max_score and points of @p result from csd-grade's
/// results.json (the Gradescope shape; skipped checks have status
/// "skipped" and are left out). False when @p json is not that shape.
bool read_results(const nlohmann::json& json, StudentResult& result);

/// Fills points and score of @p result from the check lines of csd-grade's
/// output (`PASS  id  3/3`, `FAIL  id  0/3`): the checks finished before
/// the grader was stopped. Returns how many lines were read.
int read_check_lines(std::string_view output, StudentResult& result);

/// The first line of @p text that says "error:" or "undefined reference"
/// (else its last non-empty line), at most @p max characters: the message
/// of a failure.
[[nodiscard]] std::string first_error_line(std::string_view text, std::size_t max = 200);

/// @p field quoted for CSV (RFC 4180) when it needs to be.
[[nodiscard]] std::string csv_field(std::string_view field);

/// The CSV summary: student,status,score,max_score,<one column per check
/// id>,seconds; a check's cell is its points, empty when it was not scored.
[[nodiscard]] std::string summary_csv(const LabColumns& lab,
                                      const std::vector<StudentResult>& results);

/// The JSON summary: {"lab", "max_score", "checks": [{"id", "points"}],
/// "students": [{"student", "status", "score", "max_score", "checks":
/// {"id": points or null}, "seconds", "message"}]}.
[[nodiscard]] nlohmann::json summary_json(const LabColumns& lab,
                                          const std::vector<StudentResult>& results);

}  // namespace csd::batch
