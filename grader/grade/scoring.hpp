#pragma once
/// @file scoring.hpp
/// @brief What each check is worth in each lab, and the hint it gives there.
///
/// Points follow the lesson: in each lab the checks about its design (its
/// lesson checks) carry most of the points. The protocol checks, learnt in
/// the iterative lab, are worth a few points each in the later labs, so an
/// untouched skeleton, or a server built another way than the lab asks,
/// scores little. A check a lab lists but this table does not name is worth
/// the lab's `other_points` (or, when that is 0, the check's own points), so
/// a new protocol check folds in without an edit here.
/// Everything here is immutable after first use: any thread.

#include <string_view>
#include <utility>
#include <vector>

#include "registry.hpp"

namespace csd::grade {

/// How one lab scores its checks.
struct LabScoring {
    std::string_view lab;  ///< Lab id.
    /// The checks that are the lab's lesson, with their points in this lab.
    std::vector<std::pair<std::string_view, int>> lesson = {};
    /// Points of every other check of the lab; 0: the check's own points.
    int other_points = 0;
    /// Hints that differ in this lab from the check's own hint.
    std::vector<std::pair<std::string_view, std::string_view>> hints = {};
};

/// The scoring of every lab that differs from the checks' own points.
[[nodiscard]] const std::vector<LabScoring>& scorings();

/// Points of @p check when it passes in @p lab.
[[nodiscard]] int check_points(const LabInfo& lab, const CheckInfo& check);

/// True when @p check is one of the lesson checks of @p lab.
[[nodiscard]] bool is_lesson(const LabInfo& lab, std::string_view check);

/// The hint of @p check in @p lab (its own hint unless the lab has another).
[[nodiscard]] std::string_view check_hint(const LabInfo& lab, const CheckInfo& check);

/// Sum of the points of every check of @p lab.
[[nodiscard]] int lab_points(const LabInfo& lab);

}  // namespace csd::grade
