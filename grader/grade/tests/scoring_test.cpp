// Points per lab: the lesson carries most of each lab.
#include "scoring.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "hidden.hpp"

using namespace csd::grade;

namespace {

int points(std::string_view lab, std::string_view check) {
    return check_points(*find_lab(lab), *find_check(check));
}

// The points of @p lab without its hidden checks (hidden.hpp): the same
// in the instructor's tree and in the student release.
int public_points(std::string_view lab) {
    int total = lab_points(*find_lab(lab));
    for (const auto& h : hidden_checks()) {
        if (h.lab == lab) total -= points(lab, h.check.id);
    }
    return total;
}

}  // namespace

TEST_CASE("points of the labs") {
    CHECK(public_points("iterative") == 100);
    CHECK(public_points("fork") == 136);
    CHECK(public_points("select") == 145);
    CHECK(public_points("poll") == 145);
    CHECK(public_points("epoll") == 155);
    CHECK(public_points("thread") == 168);
    CHECK(public_points("prethread") == 168);
    CHECK(points("iterative", "bytes") == 15);
    CHECK(points("fork", "bytes") == 2);
    CHECK(points("select", "syscall") == 50);
    CHECK(points("thread", "architecture") == 50);
}

TEST_CASE("in every lab the lesson checks carry more than half of the points") {
    for (const auto& lab : labs()) {
        if (!lab.available || lab.hidden) continue;  // test-only labs score no lesson
        CAPTURE(lab.id);
        int lesson = 0;
        for (const auto id : lab.checks) {
            if (is_lesson(lab, id)) lesson += check_points(lab, *find_check(id));
        }
        CHECK(2 * lesson > lab_points(lab));
    }
}

TEST_CASE("the hint table names only labs and checks that exist") {
    for (const auto& s : lab_hints()) {
        CAPTURE(s.lab);
        const LabInfo* lab = find_lab(s.lab);
        REQUIRE(lab != nullptr);
        for (const auto& hint : s.hints) {
            CAPTURE(hint.first);
            CHECK(std::find(lab->checks.begin(), lab->checks.end(), hint.first) !=
                  lab->checks.end());
            CHECK(!hint.second.empty());
        }
    }
}

TEST_CASE("every check of a course lab has its points in the manifest") {
    for (const auto& lab : labs()) {
        if (!lab.available || lab.hidden) continue;
        CAPTURE(lab.id);
        for (const auto& scored : lab.scoring) {
            CAPTURE(scored.id);
            CHECK(scored.points > 0);
            CHECK(check_points(lab, *find_check(scored.id)) == scored.points);
        }
    }
}

TEST_CASE("event labs: the reset hint follows the library, not SIGPIPE handlers") {
    for (const char* lab : {"select", "poll", "epoll"}) {
        CAPTURE(lab);
        const std::string_view hint = check_hint(*find_lab(lab), *find_check("reset"));
        CHECK(hint.find("MSG_NOSIGNAL") != std::string_view::npos);
        CHECK(hint.find("SIG_IGN") == std::string_view::npos);
    }
    CHECK(check_hint(*find_lab("iterative"), *find_check("reset")).find("SIG_IGN") !=
          std::string_view::npos);
}

TEST_CASE("zombies is scored only where there are children") {
    for (const char* lab : {"iterative", "select", "poll", "epoll"}) {
        CAPTURE(lab);
        const auto& checks = find_lab(lab)->checks;
        CHECK(std::find(checks.begin(), checks.end(), "zombies") == checks.end());
    }
    const auto& fork = find_lab("fork")->checks;
    CHECK(std::find(fork.begin(), fork.end(), "zombies") != fork.end());
}
