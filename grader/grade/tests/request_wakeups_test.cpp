// request_wakeups' rule: which threads woke for every request beyond what a
// timer of their own explains.
#include <doctest/doctest.h>

#include "checks/request_wakeups.hpp"

using csd::grade::woke_for_every_request;

TEST_CASE("a thread that wakes for every request and never when idle serves them all") {
    // Five requests: thread 10 (the decoy's I/O thread) wakes for each, the
    // connection threads 11..15 each for its own.
    const std::vector<std::set<pid_t>> woke = {{10, 11}, {10, 12}, {10, 13}, {10, 14}, {10, 15}};
    const std::map<pid_t, std::uint64_t> busy = {{10, 5}, {11, 1}, {12, 1},
                                                 {13, 1}, {14, 1}, {15, 1}};
    CHECK(woke_for_every_request(woke, busy, {}) == std::set<pid_t>{10});
}

TEST_CASE("threads that each serve their own connection: none serves them all") {
    const std::vector<std::set<pid_t>> woke = {{11}, {12}, {13}, {14}, {15}};
    const std::map<pid_t, std::uint64_t> busy = {{11, 1}, {12, 1}, {13, 1}, {14, 1}, {15, 1}};
    CHECK(woke_for_every_request(woke, busy, {}).empty());
}

TEST_CASE("a timer thread that wakes as often when idle is left out") {
    // Thread 20 wakes every 20 ms: 13 times in the requests' 255 ms, 25 in
    // twice that idle; a sanitizer's 100 ms thread cannot wake in every
    // 51 ms window, but one that did is left out the same way.
    const std::vector<std::set<pid_t>> woke = {{11, 20}, {12, 20}, {13, 20}, {14, 20}, {15, 20}};
    const std::map<pid_t, std::uint64_t> busy = {{11, 1}, {12, 1}, {13, 1},
                                                 {14, 1}, {15, 1}, {20, 13}};
    CHECK(woke_for_every_request(woke, busy, {{20, 25}}).empty());
    // The same thread serving every request on top of its timer wakes
    // about once more per request: it serves them all.
    const std::map<pid_t, std::uint64_t> serving = {{11, 1}, {12, 1}, {13, 1},
                                                    {14, 1}, {15, 1}, {20, 18}};
    CHECK(woke_for_every_request(woke, serving, {{20, 25}}) == std::set<pid_t>{20});
}

TEST_CASE("no requests, no thread") {
    CHECK(woke_for_every_request({}, {}, {}).empty());
}
