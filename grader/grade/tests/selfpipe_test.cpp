// Who answered SIGUSR1 in the selfpipe lab: the loop after the handler
// returned, or the handler itself (strace text around the signal).
#include <doctest/doctest.h>

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
