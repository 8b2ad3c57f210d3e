// A selfpipe lab program (docs/contract.md section 6, selfpipe) that is
// correct except for the one bug its name says (broken-BUG, broken_bug.hpp):
//   selfpipe-naive     a flag checked before select(): the race of the lab
//   selfpipe-poll-10ms the flag and a 10 ms select() timeout: wakes up all the time
//   selfpipe-poll-1s   the flag and a 1 s select() timeout: answers a raced signal late
//   selfpipe-late      the self-pipe, but 350 ms of "cleanup" first (late at the
//                      grader's 100 ms, and at 300 ms on a time scale of 3)
//   selfpipe-pieces    the self-pipe, but every read() is taken for one line
//   selfpipe-ignores-w the self-pipe, but no sleep for -w: no race window to
//                      test, and the grader cannot see one (race-window)
//   selfpipe-ignores-m the self-pipe, right, whatever -m says: one of the
//                      three race-free ways written (modes)
//   selfpipe-handler-exits the self-pipe, but the handler itself prints
//                      "got SIGUSR1" and _exit()s: prompt, and not the lesson
//                      (signals, under strace: no rt_sigreturn before the answer)
//   selfpipe-flag-after-window  the naive flag, looked at again after the -w
//                      sleep, right before select(): the window the grader
//                      widens is covered, the race is not gone (signals,
//                      under strace: no wait between the signal and the answer)
//   selfpipe-zero-timeout  the same flag after the window, then a select()
//                      with a zero timeout before the answer: a wait that
//                      answers nothing (signals, under strace: it returned 0)
//   selfpipe-pselect-unblocked  the self-pipe and a signalfd, right, but -m
//                      pselect never blocks SIGUSR1: the handler can run in
//                      the window before pselect (modes: SigBlk in the window)
//   selfpipe-loop-writes  a pipe, but the handler only sets the flag; after
//                      the -w sleep the loop sees it and writes the pipe
//                      itself: a signal between that look and select() is
//                      answered at the next line (signals, under strace:
//                      no write between the signal and rt_sigreturn)
//   selfpipe-restart  the handler installed with SA_RESTART         -> signals
//   selfpipe-blocking-ends  the self-pipe made with pipe2(O_CLOEXEC) only:
//                      both ends blocking (signals: /proc/PID/fdinfo)
//   selfpipe-pselect-handler-exits  the self-pipe, right, but with -m pselect
//                      the handler prints "got SIGUSR1" and _exit()s (signals,
//                      under strace in that mode)
// grader/broken/CMakeLists.txt proves csd-grade fails the check each bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: selfpipe-naive selfpipe race-window control lines idle-wakeups
// test: selfpipe-poll-1s selfpipe race-window control lines
//   Idle, the wait has a timeout (/proc/PID/syscall), however long (the
//   fifth red-team of issue 20: a 400 ms one had full marks).
// test: selfpipe-poll-1s selfpipe idle-wakeups control lines
//   The fifth red-team of issue 20 (full marks): the loop writes the pipe.
// test: selfpipe-loop-writes selfpipe signals control lines
// test: selfpipe-poll-10ms selfpipe idle-wakeups control race-window
// test: selfpipe-late selfpipe signals control lines
// test: selfpipe-pieces selfpipe lines control race-window
//   -w ignored: the self-pipe answers at once anyway (issue 20: full marks).
// test: selfpipe-ignores-w selfpipe race-window control signals
//   The handler answers and exits: every answer prompt (issue 20: full marks).
// test: selfpipe-handler-exits selfpipe signals control lines race-window
//   -m accepted and ignored: race-free in every mode, and only one way written.
// test: selfpipe-ignores-m selfpipe modes control race-window
//   Behaviour that passes the timing checks, seen under strace (issue 20).
// test: selfpipe-flag-after-window selfpipe signals control race-window lines
// test: selfpipe-zero-timeout selfpipe signals control race-window lines
// test: selfpipe-pselect-unblocked selfpipe modes control lines
// test: selfpipe-pselect-handler-exits selfpipe signals control race-window lines
//   Right in every run here (one signal, one byte), wrong by the handout
//   (the seventh red-team: full marks): a blocking write end.
// test: selfpipe-blocking-ends selfpipe signals control race-window lines
//   The handler installed with SA_RESTART against the handout's "no flags"
//   (the eighth red-team: full marks, select never restarts anyway).
// test: selfpipe-restart selfpipe signals control race-window lines
#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "broken_bug.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

volatile sig_atomic_t got_usr1 = 0;
int wake_write = -1;
/// Bug selfpipe-handler-exits: the handler answers and ends the program.
bool handler_exits = false;

extern "C" void on_usr1(int) {
    if (handler_exits) {
        constexpr char line[] = "got SIGUSR1\n";
        (void)!::write(STDOUT_FILENO, line, sizeof line - 1);
        ::_exit(0);
    }
    got_usr1 = 1;
    const int saved = errno;
    if (wake_write >= 0) {
        const char byte = 1;
        (void)!::write(wake_write, &byte, 1);
    }
    errno = saved;
}

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

void sleep_us(long us) {
    if (us <= 0) return;
    const timespec t{.tv_sec = us / 1'000'000, .tv_nsec = (us % 1'000'000) * 1000};
    (void)::nanosleep(&t, nullptr);
}

/// Reads what stdin has and prints each whole line as `line: ...` (bug
/// selfpipe-pieces: each read as a line). False at the end of input.
bool echo_lines(std::string& pending) {
    char chunk[4096];
    const ssize_t got = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) return true;  // the caller waits again
    if (got <= 0) {
        say("end of input");
        return false;
    }
    pending.append(chunk, static_cast<std::size_t>(got));
    if (bug == "selfpipe-pieces") {
        if (pending.back() == '\n') pending.pop_back();
        say("line: " + pending);
        pending.clear();
        return true;
    }
    for (std::size_t nl = 0; (nl = pending.find('\n')) != std::string::npos;) {
        say("line: " + pending.substr(0, nl));
        pending.erase(0, nl + 1);
    }
    return true;
}

/// Bug selfpipe-pselect-unblocked, modes pselect and signalfd: waits for
/// stdin (read and dropped) and SIGUSR1, then answers. signalfd: right
/// (SIGUSR1 blocked, read from the signalfd). pselect: the handler's flag
/// and pselect letting SIGUSR1 in, but SIGUSR1 never blocked outside it.
int pselect_or_signalfd(bool pselect_mode, long window_us) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sfd = -1;
    if (pselect_mode) {
        struct sigaction sa {};
        sa.sa_handler = on_usr1;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGUSR1, &sa, nullptr);
    } else {
        ::sigprocmask(SIG_BLOCK, &usr1, nullptr);
        sfd = ::signalfd(-1, &usr1, SFD_CLOEXEC);
        if (sfd < 0) return 1;
    }
    say("ready");
    std::string pending;
    for (;;) {
        if (got_usr1 != 0) break;
        sleep_us(window_us);
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(STDIN_FILENO, &readable);
        if (sfd >= 0) FD_SET(sfd, &readable);
        sigset_t none;
        sigemptyset(&none);
        const int n = ::pselect(std::max(STDIN_FILENO, sfd) + 1, &readable, nullptr, nullptr,
                                nullptr, pselect_mode ? &none : nullptr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 1;
        if (sfd >= 0 && FD_ISSET(sfd, &readable)) break;
        if (FD_ISSET(STDIN_FILENO, &readable) && !echo_lines(pending)) return 0;
    }
    say("got SIGUSR1");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "selfpipe-naive selfpipe-poll-10ms selfpipe-poll-1s selfpipe-late selfpipe-pieces "
        "selfpipe-ignores-w selfpipe-handler-exits selfpipe-ignores-m "
        "selfpipe-flag-after-window selfpipe-zero-timeout selfpipe-pselect-handler-exits "
        "selfpipe-pselect-unblocked selfpipe-loop-writes selfpipe-blocking-ends "
        "selfpipe-restart");
    handler_exits = bug == "selfpipe-handler-exits";
    long window_us = 0;
    // -m is accepted and ignored (each bug is one way of waiting), but by
    // selfpipe-pselect-handler-exits.
    std::string_view mode = "selfpipe";
    for (int c = 0; (c = ::getopt(argc, argv, "w:m:")) != -1;) {
        if (c == 'm') {
            mode = optarg;
            if (bug == "selfpipe-pselect-handler-exits" && mode == "pselect") {
                handler_exits = true;
            }
            continue;
        }
        if (c != 'w') return 2;
        window_us = std::atol(optarg);
    }
    if (bug == "selfpipe-ignores-w") window_us = 0;
    if (bug == "selfpipe-pselect-unblocked" && mode != "selfpipe") {
        return pselect_or_signalfd(mode == "pselect", window_us);
    }
    const bool uses_pipe =
        bug == "selfpipe-late" || bug == "selfpipe-pieces" || bug == "selfpipe-ignores-w" ||
        handler_exits || bug == "selfpipe-ignores-m" || bug == "selfpipe-pselect-handler-exits" ||
        bug == "selfpipe-pselect-unblocked" || bug == "selfpipe-loop-writes" ||
        bug == "selfpipe-blocking-ends" || bug == "selfpipe-restart" || bug == "none";
    int wake_read = -1;
    int loop_write = -1;  // selfpipe-loop-writes: the loop's end, not the handler's
    if (uses_pipe) {
        int ends[2];
        const int nonblocking = bug == "selfpipe-blocking-ends" ? 0 : O_NONBLOCK;
        if (::pipe2(ends, O_CLOEXEC | nonblocking) != 0) return 1;
        wake_read = ends[0];
        (bug == "selfpipe-loop-writes" ? loop_write : wake_write) = ends[1];
    }
    struct sigaction sa {};
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    if (bug == "selfpipe-restart") sa.sa_flags = SA_RESTART;  // the bug
    ::sigaction(SIGUSR1, &sa, nullptr);
    say("ready");
    std::string pending;
    for (;;) {
        if (!uses_pipe && got_usr1 != 0) break;
        sleep_us(window_us);
        if (bug == "selfpipe-flag-after-window" && got_usr1 != 0) break;
        if (loop_write >= 0 && got_usr1 != 0) (void)!::write(loop_write, "x", 1);
        if (bug == "selfpipe-zero-timeout" && got_usr1 != 0) {
            timeval now{};  // a wait for show: it returns 0 at once
            fd_set none;
            FD_ZERO(&none);
            FD_SET(STDIN_FILENO, &none);
            (void)::select(STDIN_FILENO + 1, &none, nullptr, nullptr, &now);
            break;
        }
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(STDIN_FILENO, &readable);
        if (wake_read >= 0) FD_SET(wake_read, &readable);
        timeval timeout{.tv_sec = bug == "selfpipe-poll-1s" ? 1 : 0,
                        .tv_usec = bug == "selfpipe-poll-10ms" ? 10'000 : 0};
        const bool polls = bug == "selfpipe-poll-1s" || bug == "selfpipe-poll-10ms";
        const int n = ::select(std::max(STDIN_FILENO, wake_read) + 1, &readable, nullptr, nullptr,
                               polls ? &timeout : nullptr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 1;
        if (wake_read >= 0 && FD_ISSET(wake_read, &readable)) break;
        if (FD_ISSET(STDIN_FILENO, &readable) && !echo_lines(pending)) return 0;
    }
    // The graded program does not see the grader's time scale: late on
    // any scale up to 3.
    if (bug == "selfpipe-late") sleep_us(350'000);
    say("got SIGUSR1");
    return 0;
}
