// Hidden checks (hidden.hpp): they run and score like the others, and only
// an instructor's --list or results.json names them. In the student release
// (no grader/grade/hidden/) the table is empty and these cases check that
// nothing names a hidden check at all.
#include "hidden.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "report.hpp"
#include "scoring.hpp"

using namespace csd::grade;

TEST_CASE("a hidden check joins its lab's list before the check it names") {
    for (const auto& h : hidden_checks()) {
        CAPTURE(h.check.id);
        const LabInfo* lab = find_lab(h.lab);
        REQUIRE(lab != nullptr);
        REQUIRE(find_check(h.check.id) != nullptr);
        CHECK((find_check(h.check.id)->run == h.check.run));
        CHECK(find_hidden_check(h.lab, h.check.id) == &h);
        CHECK(is_hidden_check(h.check.id));
        const auto at = std::find(lab->checks.begin(), lab->checks.end(), h.check.id);
        REQUIRE(at != lab->checks.end());
        if (!h.before.empty()) CHECK(*(at + 1) == h.before);
        if (h.points > 0) CHECK(check_points(*lab, h.check) == h.points);
        // Not a public check's id, and the public table does not have it.
        CHECK(std::none_of(checks().begin(), checks().end(),
                           [&](const CheckInfo& c) { return c.id == h.check.id; }));
    }
}

TEST_CASE("--list names a hidden check only with --hidden") {
    for (const auto& h : hidden_checks()) {
        CAPTURE(h.check.id);
        const std::string id(h.check.id);
        CHECK(format_list().find(id) == std::string::npos);
        const std::string shown = format_list(h.lab, true);
        CHECK(shown.find(id) != std::string::npos);
        CHECK(shown.find("[hidden]") != std::string::npos);
    }
    // Without --hidden a lab's points leave its hidden checks out.
    for (const auto& lab : labs()) {
        if (!lab.available || lab.hidden) continue;
        int hidden = 0;
        for (const auto id : lab.checks) {
            if (is_hidden_check(id)) hidden += check_points(lab, *find_check(id));
        }
        CAPTURE(lab.id);
        const std::string points = "(" + std::to_string(lab_points(lab) - hidden) + " points)";
        CHECK(format_list(lab.id).find(points) != std::string::npos);
    }
}

TEST_CASE("results.json: a hidden check has the visibility asked for, the others visible") {
    const LabInfo& lab = *find_lab("fork");
    std::vector<CheckResult> results = {
        {.id = "bytes", .points = 2, .max_points = 2, .passed = true, .seconds = 1.2}};
    if (!hidden_checks().empty()) {
        const std::string id(hidden_checks().front().check.id);
        results.push_back({.id = id, .max_points = 5, .seconds = 1.0});
    }
    const auto j = gradescope_json(results, lab, "after_due_date");
    CHECK(j["execution_time"] == (results.size() == 1 ? 1 : 2));  // whole seconds, rounded
    REQUIRE(j["tests"].size() == results.size());
    CHECK(j["tests"][0]["visibility"] == "visible");
    for (std::size_t i = 1; i < results.size(); ++i) {
        CHECK(j["tests"][i]["visibility"] == "after_due_date");
        CHECK(j["tests"][i]["status"] == "failed");
    }
    CHECK(gradescope_json(results, lab)["tests"].back()["visibility"] ==
          (hidden_checks().empty() ? "visible" : "after_published"));
}
