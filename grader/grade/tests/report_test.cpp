// Report text, score and the Gradescope JSON shape.
#include "report.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "csd/grade/course_labs.hpp"

using namespace csd::grade;

namespace {

std::vector<CheckResult> sample() {
    return {
        {.id = "bytes", .points = 15, .max_points = 15, .passed = true},
        {.id = "zombies",
         .points = 0,
         .max_points = 5,
         .passed = false,
         .saw = "3 zombies\nsecond line",
         .hint = "reap them"},
    };
}

}  // namespace

TEST_CASE("one line per check, saw and hint for failures") {
    const LabInfo& lab = *find_lab("fork");
    const auto r = sample();
    CHECK(format_result(r[0], lab) == "PASS  bytes            15/15\n");
    CHECK(format_result(r[1], lab) ==
          "FAIL  zombies           0/5\n"
          "  saw: 3 zombies\n"
          "       second line\n"
          "  hint: reap them\n"
          "  see: labs/fork/handout.md#what-usually-goes-wrong\n");
    CHECK(format_score(r) == "Score: 15/20\n");
    CHECK(score(r) == 15);
    CHECK(max_score(r) == 20);
}

TEST_CASE("Gradescope results.json shape") {
    const LabInfo& lab = *find_lab("fork");
    const auto j = gradescope_json(sample(), lab);
    CHECK(j["score"] == 15);
    CHECK(j["max_score"] == 20);
    REQUIRE(j["tests"].size() == 2);
    CHECK(j["tests"][0]["name"] == "bytes");
    CHECK(j["tests"][0]["status"] == "passed");
    CHECK(j["tests"][0]["score"] == 15);
    CHECK(j["tests"][0]["max_score"] == 15);
    CHECK(j["tests"][1]["status"] == "failed");
    const std::string out = j["tests"][1]["output"];
    CHECK(out.find("saw: 3 zombies") != std::string::npos);
    CHECK(out.find("hint: reap them") != std::string::npos);
    CHECK(out.find("see: labs/fork/handout.md#what-usually-goes-wrong") != std::string::npos);
}

TEST_CASE("a skipped check is reported with its reason and left out of the score") {
    const LabInfo& lab = *find_lab("epoll");
    auto r = sample();
    r.push_back({.id = "syscall",
                 .points = 0,
                 .max_points = 5,
                 .passed = false,
                 .saw = "/proc/9/syscall: Permission denied",
                 .skipped = true});
    CHECK(format_result(r[2], lab) ==
          "SKIP  syscall           -/5  (not scored)\n"
          "  why: /proc/9/syscall: Permission denied\n");
    CHECK(score(r) == 15);
    CHECK(max_score(r) == 20);
    CHECK(format_score(r) == "Score: 15/20 (skipped, not scored: syscall)\n");
    const auto j = gradescope_json(r, lab);
    CHECK(j["score"] == 15);
    CHECK(j["max_score"] == 20);
    REQUIRE(j["tests"].size() == 3);
    CHECK(!j["tests"][2].contains("status"));  // Gradescope knows passed and failed only
    CHECK(j["tests"][2]["score"] == 0);
    CHECK(j["tests"][2]["max_score"] == 0);
    const std::string out = j["tests"][2]["output"];
    CHECK(out.find("Permission denied") != std::string::npos);

    // Only passed and skipped checks: full score (exit status 0).
    const std::vector<CheckResult> clean = {r[0], r[2]};
    CHECK(score(clean) == max_score(clean));
}

TEST_CASE("--list shows every lab, with points or as not yet available") {
    const std::string all = format_list();
    CHECK(all.find("iterative") != std::string::npos);
    CHECK(all.find("thread") != std::string::npos);
    // A lab of labs/labs.txt that is still coming is listed as such.
    const bool any_coming = std::any_of(course_labs().begin(), course_labs().end(),
                                        [](const CourseLab& lab) { return !lab.ready; });
    CHECK((all.find("not yet available") != std::string::npos) == any_coming);
    const std::string one = format_list("epoll");
    CHECK(one.find("(155 points)") != std::string::npos);
    CHECK(one.find("syscall        50") != std::string::npos);
    CHECK(one.find("slow-reader") != std::string::npos);
    CHECK(one.find("iterative") == std::string::npos);
}
