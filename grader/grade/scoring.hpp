#pragma once
/// @file scoring.hpp
/// @brief What each check is worth in each lab, and the hint it gives there.
///
/// Points follow the lesson: in each lab the checks about its design (its
/// lesson checks) carry most of the points. The protocol checks, learnt in
/// the iterative lab, are worth a few points each in the later labs, so an
/// untouched skeleton, or a server built another way than the lab asks,
/// scores little. Each lab's points are declared with its checks in the lab
/// manifest (labs/labs.txt `checks CHECK:POINTS[*]`); a hidden check brings
/// its own (hidden.hpp); a test-only lab's checks are worth their own
/// points. This file adds the hints that differ from lab to lab.
/// Everything here is immutable after first use: any thread.

#include <string_view>
#include <utility>
#include <vector>

#include "registry.hpp"

namespace csd::grade {

/// The hints of one lab that differ from the checks' own.
struct LabHints {
    std::string_view lab;  ///< Lab id.
    /// (check id, hint) for the checks whose hint differs in this lab.
    std::vector<std::pair<std::string_view, std::string_view>> hints = {};
};

/// Every lab whose hints differ from the checks' own.
[[nodiscard]] const std::vector<LabHints>& lab_hints();
/// Points of @p check when it passes in @p lab.
[[nodiscard]] int check_points(const LabInfo& lab, const CheckInfo& check);

/// True when @p check is one of the lesson checks of @p lab (a `*` in
/// labs/labs.txt).
[[nodiscard]] bool is_lesson(const LabInfo& lab, std::string_view check);

/// The hint of @p check in @p lab (its own hint unless the lab has another).
[[nodiscard]] std::string_view check_hint(const LabInfo& lab, const CheckInfo& check);

/// Sum of the points of every check of @p lab.
[[nodiscard]] int lab_points(const LabInfo& lab);

}  // namespace csd::grade
