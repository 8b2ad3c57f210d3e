#include "tally.hpp"

#include <doctest/doctest.h>

using csd::client::Tally;

TEST_CASE("a tally of exact connections") {
    Tally tally(2, 2);
    tally.add_line("ok 1 1 100");
    tally.add_line("ok 2 1 300");
    tally.add_line("ok 1 2 200");
    tally.add_line("ok 2 2 400");
    tally.child_ended(1, "exited with status 0");
    tally.child_ended(2, "exited with status 0");
    CHECK(tally.total() == 4);
    CHECK(tally.ok() == 4);
    CHECK(tally.failed() == 0);
    CHECK(tally.shown().empty());
    CHECK(tally.latencies().size() == 4);
}

TEST_CASE("failures are named and capped, missing reports count as failed") {
    Tally tally(2, 20, 3);
    for (int i = 1; i <= 5; ++i)
        tally.add_line("fail 1 " + std::to_string(i) + " got 0 of 10 bytes, then EOF");
    tally.add_line("ok 2 1 100");
    tally.child_ended(2, "killed by signal 9");
    CHECK(tally.ok() == 1);
    CHECK(tally.failed() == 39);
    CHECK(tally.reported() == 6);
    REQUIRE(tally.shown().size() == 4);
    CHECK(tally.shown()[0] == "child 1, connection 1: got 0 of 10 bytes, then EOF");
    CHECK(tally.shown()[3] == "child 2: killed by signal 9 after 1 of 20 connections");
    CHECK(tally.failure_lines() == 6);
}

TEST_CASE("reports out of range do not count as exact") {
    Tally tally(1, 1);
    tally.add_line("ok 2 1 100");
    tally.add_line("ok 1 2 100");
    tally.add_line("garbage");
    tally.add_line("ok 1 1 100");
    tally.add_line("ok 1 1 100");
    CHECK(tally.ok() == 1);
    CHECK(tally.failed() == 0);
    CHECK(tally.failure_lines() == 4);
}
