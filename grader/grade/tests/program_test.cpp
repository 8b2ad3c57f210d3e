// ProgramRun: a lab program run by a check (stdin and stdout pipes, kill).
#include "program.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>

#include "process.hpp"
#include "procfs.hpp"

using namespace csd::grade;
using namespace std::chrono_literals;

TEST_CASE("a program reads what we write and we read its lines") {
    ProgramRun run("/bin/cat", {});
    REQUIRE(run.write_stdin("one\ntw", Deadline(2s)));
    CHECK(run.read_line(Deadline(2s)).line == "one");
    const LineResult none = run.read_line(Deadline(50ms));  // "tw" has no \n yet
    CHECK(!none.line);
    CHECK(!none.eof);
    REQUIRE(run.write_stdin("o\nthree", Deadline(2s)));
    CHECK(run.read_line(Deadline(2s)).line == "two");
    run.close_stdin();  // cat ends: "three" has no \n, then EOF
    const LineResult end = run.read_line(Deadline(2s));
    CHECK(!end.line);
    CHECK(end.eof);
    CHECK(run.output() == "one\ntwo\nthree");
    const auto status = run.wait(Deadline(2s));
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("a program that runs on is killed with everything it started") {
    pid_t pid = 0;
    {
        ProgramRun run("/bin/sh", {"-c", "sleep 60 & sleep 60"});
        pid = run.pid();
        CHECK(!run.wait(Deadline(100ms)));
        run.signal(SIGSTOP);  // even a stopped one
    }
    CHECK(child_status(pid).has_value());
    // The background sleep was in the program's process group: gone too
    // (at most a zombie not yet reaped by whoever inherited it).
    for (const auto& p : procfs::snapshot()) {
        if (p.pgrp == pid) CHECK(p.state == 'Z');
    }
}
