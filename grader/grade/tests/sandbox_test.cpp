// The sandbox of a graded program (limits, session, PID namespace) and the
// capture of its output.
#include "sandbox.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "capture.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "program.hpp"

using namespace csd::grade;
using namespace std::chrono_literals;

namespace {

// Runs `sh -c SCRIPT` confined and returns its stdout.
std::string confined_output(const std::string& script) {
    ProgramRun run("/bin/sh", {"-c", script});
    std::string out;
    for (;;) {
        const LineResult r = run.read_line(Deadline(5s));
        if (!r.line) break;
        out += *r.line + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("a capture keeps everything when it fits, else its head and tail") {
    {
        OutputCapture small;
        REQUIRE(::write(small.write_end(), "hello\n", 6) == 6);
        small.close_write_end();
        CHECK(small.wait_for_eof(2s));
        CHECK(small.text() == "hello\n");
    }
    OutputCapture big(10, 10);
    const std::string data = "0123456789" + std::string(1000, 'x') + "abcdefghij";
    REQUIRE(::write(big.write_end(), data.data(), data.size()) ==
            static_cast<ssize_t>(data.size()));
    big.close_write_end();
    CHECK(big.wait_for_eof(2s));
    CHECK(big.total() == data.size());
    CHECK(big.head() == "0123456789");
    CHECK(big.text() == "0123456789\n[1000 bytes cut]\nabcdefghij");
}

TEST_CASE("a graded program runs with the limits, in a session of its own") {
    (void)configure_sandbox(100);
    rlimit files{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
    const rlim_t expected_files = std::min<rlim_t>(files.rlim_max, 16384);
    const std::string limits = confined_output("ulimit -n; ulimit -c; ulimit -t");
    CHECK(limits == std::to_string(expected_files) + "\n0\n100\n");
    ProgramRun run("/bin/sleep", {"5"});
    const auto st = procfs::read_stat(run.pid());
    REQUIRE(st);
    CHECK(st->session == run.pid());
    CHECK(st->pgrp == run.pid());
}

TEST_CASE("in a PID namespace the program is PID 2 and nothing of it outlives the run") {
    if (!configure_sandbox(100).pid_namespace) {
        MESSAGE("no PID namespace here (not root): rlimits only");
        return;
    }
    // As in csd-grade (init_process_control()): the inits are reparented to us.
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) == 0);
    CHECK(confined_output("echo $$") == "2\n");
    pid_t pid = 0;
    std::vector<pid_t> below;
    {
        // An escaped daemon (setsid, double fork) and a plain child.
        ProgramRun run("/bin/sh", {"-c", "(setsid sleep 60 &) ; sleep 60 & echo go; wait"});
        pid = run.pid();
        CHECK(run.read_line(Deadline(5s)).line == "go");
        std::this_thread::sleep_for(100ms);
        for (const pid_t p : live_descendants_of_grader()) below.push_back(p);
        CHECK(below.size() >= 3);  // the shell, its sleep, the daemon's sleep
    }
    CHECK(child_status(pid).has_value());
    for (const pid_t p : below) {
        const auto st = procfs::read_stat(p);
        CHECK_MESSAGE((!st || st->state == 'Z'), "pid ", p, " still runs");
    }
}
