// Who answered SIGUSR1 in the selfpipe lab: the loop after the handler
// returned, or the handler itself (strace text around the signal).
#include <doctest/doctest.h>

#include <string>

#include "checks/selfpipe_runs.hpp"

using csd::grade::selfpipe::handler_problem;

TEST_CASE("the self-pipe: the handler writes its byte and returns, the loop answers") {
    const char* trace =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "write(4, \"\\1\", 1)                        = 1\n"
        "rt_sigreturn({mask=[]})                 = -1 EINTR (Interrupted system call)\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n"
        "exit_group(0)                           = ?\n";
    CHECK(handler_problem(trace).empty());
}

TEST_CASE("signalfd: no handler runs, nothing to judge") {
    CHECK(handler_problem("write(1, \"got SIGUSR1\\n\", 12) = 12\nexit_group(0) = ?\n").empty());
}

TEST_CASE("a handler that prints, or exits, is caught") {
    const char* prints =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n"
        "exit_group(0)                           = ?\n";
    CHECK(handler_problem(prints).find("wrote") != std::string::npos);
    const char* exits =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "exit_group(0)                           = ?\n";
    CHECK(handler_problem(exits).find("ended") != std::string::npos);
    // A write before the signal (a line it was given) is not the answer.
    const char* line_first =
        "write(1, \"line: x\\n\", 8) = 8\n"
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "rt_sigreturn({mask=[]}) = -1 EINTR (Interrupted system call)\n"
        "write(1, \"got SIGUSR1\\n\", 12) = 12\n";
    CHECK(handler_problem(line_first).empty());
}

using csd::grade::selfpipe::window_problem;

TEST_CASE("window: the self-pipe wakes the wait that follows the window") {
    const char* trace =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "write(4, \"\\1\", 1)                        = 1\n"
        "rt_sigreturn({mask=[]})                 = 0\n"
        "pselect6(4, [0 3], NULL, NULL, NULL, NULL) = 1 (in [3])\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n"
        "exit_group(0)                           = ?\n";
    CHECK(window_problem(trace).empty());
}

TEST_CASE("window: pselect, the signal let in by the wait it interrupts") {
    const char* trace =
        "pselect6(4, [0], NULL, NULL, NULL, {[], 8}) = ? ERESTARTNOHAND (To be restarted if "
        "no handler)\n"
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "rt_sigreturn({mask=[USR1]})             = -1 EINTR (Interrupted system call)\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n";
    CHECK(window_problem(trace).empty());
}

TEST_CASE("window: signalfd, no handler, the answer after a wait") {
    CHECK(window_problem("poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN}], 2, -1) = 1\n"
                         "write(1, \"got SIGUSR1\\n\", 12) = 12\n")
              .empty());
    CHECK(!window_problem("write(1, \"got SIGUSR1\\n\", 12) = 12\n").empty());
}

TEST_CASE("window: the flag looked at again after the window is caught") {
    const char* trace =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "rt_sigreturn({mask=[]})                 = 0\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n"
        "exit_group(0)                           = ?\n";
    CHECK(window_problem(trace).find("without waiting again") != std::string::npos);
    // A wait that returned normally before the signal does not count.
    const std::string earlier =
        std::string("pselect6(1, [0], NULL, NULL, NULL, NULL) = 1 (in [0])\n") + trace;
    CHECK(!window_problem(earlier).empty());
}

TEST_CASE("window: a wait that timed out at once answers nothing") {
    // The flag looked at after the window, then a select with a zero
    // timeout made to look like the answer's wait (red-team, issue 20).
    const char* trace =
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7, si_uid=0} ---\n"
        "rt_sigreturn({mask=[]})                 = 0\n"
        "pselect6(4, [0 3], NULL, NULL, {tv_sec=0, tv_nsec=0}, NULL) = 0 (Timeout)\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n";
    CHECK(window_problem(trace).find("zero timeout") != std::string::npos);
    CHECK(!window_problem("poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN}], 2, 0) = 0 "
                          "(Timeout)\n"
                          "write(1, \"got SIGUSR1\\n\", 12) = 12\n")
               .empty());
    // The resumed half of a wait carries its result.
    CHECK(window_problem("[pid 9] poll([{fd=3, events=POLLIN}], 1, -1 <unfinished ...>\n"
                         "[pid 9] <... poll resumed>)      = 1 ([{fd=3, revents=POLLIN}])\n"
                         "[pid 9] write(1, \"got SIGUSR1\\n\", 12) = 12\n")
              .empty());
}

TEST_CASE("window: no answer, nothing to judge here") {
    CHECK(window_problem("--- SIGUSR1 {si_signo=SIGUSR1} ---\n").empty());
}

TEST_CASE("the self-pipe's byte comes from the handler, not from the loop") {
    using csd::grade::selfpipe::self_pipe_problem;
    // The handler writes the pipe before it returns: right.
    CHECK(self_pipe_problem("--- SIGUSR1 {si_signo=SIGUSR1} ---\n"
                            "write(4, \"\\1\", 1)                        = 1\n"
                            "rt_sigreturn({mask=[]})                 = -1 EINTR\n"
                            "write(1, \"got SIGUSR1\\n\", 12)           = 12\n")
              .empty());
    // The handler only sets a flag; the loop writes the pipe after it.
    const std::string loop_writes = self_pipe_problem(
        "--- SIGUSR1 {si_signo=SIGUSR1} ---\n"
        "rt_sigreturn({mask=[]})                 = -1 EINTR\n"
        "write(4, \"\\1\", 1)                        = 1\n"
        "write(1, \"got SIGUSR1\\n\", 12)           = 12\n");
    CHECK(loop_writes.find("handler wrote nothing into the pipe") != std::string::npos);
    // A write to stdout in the handler is not the pipe's byte.
    CHECK_FALSE(self_pipe_problem("--- SIGUSR1 {si_signo=SIGUSR1} ---\n"
                                  "write(2, \"x\", 1) = 1\n"
                                  "rt_sigreturn({mask=[]}) = 0\n")
                    .empty());
    // No signal in the trace: nothing to judge.
    CHECK(self_pipe_problem("write(1, \"got SIGUSR1\\n\", 12) = 12\n").empty());
}
