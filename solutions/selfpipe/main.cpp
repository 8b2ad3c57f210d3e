// Lab "selfpipe": a program (not a server) that waits for two things at
// once, a line on stdin and the signal SIGUSR1, and answers the signal at
// once wherever it lands.
//
// The command line and the output are in docs/contract.md, section 6
// (selfpipe). The handout, labs/selfpipe/handout.md, explains the race
// between a flag and select() and the three ways around it; the TODOs
// below name its steps ("handout step N").
//
// Given: the command line, the race window (-w), reading and echoing
// lines, select() on stdin and one more descriptor, and -m naive (the flag
// checked before select(): the race itself).
// Yours: installing a handler, -m selfpipe (the default), -m pselect and
// -m signalfd.

#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "csd/core.hpp"  // the selfpipe lab links csd::lab_core only: no signal handling

namespace {

/// The ways of waiting for stdin and SIGUSR1 at once (-m).
enum class Mode { selfpipe, pselect, signalfd, naive };

/// The command line: `PROGRAM [-m MODE] [-w MICROSECONDS]`.
struct Options {
    Mode mode = Mode::selfpipe;  ///< -m: how to wait.
    long window_us = 0;          ///< -w: the race window, in microseconds.
};

/// Prints @p line and a newline on stdout, flushed (stdout is a pipe).
void say(std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

/// The race window of docs/contract.md (-w): sleeps @p us microseconds
/// between the last look for the signal and the call that waits. A signal
/// that interrupts the sleep ends it; nothing looks at the signal again
/// before the wait.
void race_window(long us) {
    if (us <= 0) return;
    const timespec t{.tv_sec = us / 1'000'000, .tv_nsec = (us % 1'000'000) * 1000};
    (void)::nanosleep(&t, nullptr);
}

/// The stdin side: collects bytes and prints `line: TEXT` for every
/// complete line. Owns its buffer; main thread only.
class LineEcho {
  public:
    /// Reads what @p fd has now (one read) and echoes every complete line;
    /// false at end of input.
    bool read_from(int fd) {
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) return true;
            csd::throw_errno("read");
        }
        if (n == 0) return false;
        pending_.append(chunk, static_cast<std::size_t>(n));
        std::size_t nl = 0;
        while ((nl = pending_.find('\n')) != std::string::npos) {
            say("line: " + pending_.substr(0, nl));
            pending_.erase(0, nl + 1);
        }
        return true;
    }

  private:
    std::string pending_;  // the start of a line whose '\n' has not come yet
};

/// Set by the naive handler; read by the naive loop.
volatile sig_atomic_t got_usr1 = 0;

extern "C" void set_flag(int) {
    got_usr1 = 1;
}

/// Installs @p handler for SIGUSR1 (no SA_RESTART: a blocking call
/// returns EINTR).
void on_sigusr1(void (*handler)(int)) {
    // TODO(handout step 1): install `handler` for SIGUSR1 with sigaction(2):
    // no flags (no SA_RESTART: a call the signal interrupts returns EINTR,
    // signal(7), "Interruption of system calls") and no other signal blocked
    // while it runs. Until then SIGUSR1 kills the program (its default
    // action).
    // SKELETON: (void)handler;
    // BEGIN SOLUTION
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    csd::check(::sigaction(SIGUSR1, &sa, nullptr), "sigaction");
    // END SOLUTION
}

/// select() on stdin and, when @p other >= 0, on @p other, without a
/// timeout. Returns false on EINTR; fills @p readable.
bool wait_readable(int other, fd_set& readable) {
    FD_ZERO(&readable);
    FD_SET(STDIN_FILENO, &readable);
    if (other >= 0) FD_SET(other, &readable);
    const int top = std::max(STDIN_FILENO, other);
    if (::select(top + 1, &readable, nullptr, nullptr, nullptr) < 0) {
        if (errno == EINTR) return false;
        csd::throw_errno("select");
    }
    return true;
}

/// -m naive (handout step 1): the flag, checked before select(). A signal
/// that lands after the check and before select() is seen by nobody:
/// select() sleeps until the next line. Wrong on purpose.
int run_naive(long window_us) {
    on_sigusr1(set_flag);
    say("ready");
    LineEcho lines;
    for (;;) {
        if (got_usr1 != 0) {
            say("got SIGUSR1");
            return 0;
        }
        race_window(window_us);  // the race: the signal lands here
        fd_set readable;
        if (!wait_readable(-1, readable)) continue;  // EINTR: look at the flag
        if (!lines.read_from(STDIN_FILENO)) {
            say("end of input");
            return 0;
        }
    }
}

// BEGIN SOLUTION
/// The write end of the self-pipe, for the handler.
int wake_write = -1;

extern "C" void write_wake_byte(int) {
    const int saved = errno;  // the interrupted code may be looking at errno
    const char byte = 1;
    (void)::write(wake_write, &byte, 1);  // full pipe: a byte is already there
    errno = saved;
}

// END SOLUTION
/// -m selfpipe (handout step 2): the handler writes a byte into a pipe;
/// select() watches the pipe's read end next to stdin.
int run_selfpipe(long window_us) {
    // TODO(handout step 2): make a pipe, both ends close-on-exec and
    // non-blocking (a full pipe must not block the handler: one byte
    // waiting is enough); install a SIGUSR1 handler that writes one byte
    // into it and leaves errno as it found it. Then the loop: print
    // "ready", and until the end of input, sleep the race window, then wait
    // in select() for stdin and the pipe's read end at once; a readable
    // pipe means "got SIGUSR1" and return 0; stdin: echo its lines.
    // SKELETON: (void)window_us;
    // SKELETON: throw std::runtime_error("-m selfpipe is not written yet (handout step 2)");
    // BEGIN SOLUTION
    int ends[2];
    csd::check(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
    const csd::Fd wake_read(ends[0]);
    const csd::Fd wake_write_end(ends[1]);
    wake_write = wake_write_end.get();
    on_sigusr1(write_wake_byte);
    say("ready");
    LineEcho lines;
    for (;;) {
        race_window(window_us);  // nothing to look at: a signal leaves a byte
        fd_set readable;
        if (!wait_readable(wake_read.get(), readable)) continue;
        if (FD_ISSET(wake_read.get(), &readable)) {
            say("got SIGUSR1");
            return 0;
        }
        if (FD_ISSET(STDIN_FILENO, &readable) && !lines.read_from(STDIN_FILENO)) {
            say("end of input");
            return 0;
        }
    }
    // END SOLUTION
}

/// -m pselect (handout step 3): SIGUSR1 stays blocked except inside
/// pselect(), which unblocks it atomically with the start of the wait.
int run_pselect(long window_us) {
    // TODO(handout step 3): block SIGUSR1 (sigprocmask) before installing
    // the flag handler; look at the flag; call pselect() with the mask of
    // before, which lets the signal in only while pselect() waits.
    // SKELETON: (void)window_us;
    // SKELETON: throw std::runtime_error("-m pselect is not written yet (handout step 3)");
    // BEGIN SOLUTION
    sigset_t usr1;
    sigset_t before;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    csd::check(::sigprocmask(SIG_BLOCK, &usr1, &before), "sigprocmask");
    sigdelset(&before, SIGUSR1);
    on_sigusr1(set_flag);
    say("ready");
    LineEcho lines;
    for (;;) {
        if (got_usr1 != 0) {
            say("got SIGUSR1");
            return 0;
        }
        race_window(window_us);  // blocked: a signal waits here for pselect()
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(STDIN_FILENO, &readable);
        if (::pselect(STDIN_FILENO + 1, &readable, nullptr, nullptr, nullptr, &before) < 0) {
            if (errno == EINTR) continue;  // the handler ran: look at the flag
            csd::throw_errno("pselect");
        }
        if (!lines.read_from(STDIN_FILENO)) {
            say("end of input");
            return 0;
        }
    }
    // END SOLUTION
}

/// -m signalfd (handout step 4): SIGUSR1 stays blocked and becomes
/// readable on a descriptor; no handler at all.
int run_signalfd(long window_us) {
    // TODO(handout step 4): block SIGUSR1, make a signalfd for it
    // (SFD_CLOEXEC), watch it in select() next to stdin.
    // SKELETON: (void)window_us;
    // SKELETON: throw std::runtime_error("-m signalfd is not written yet (handout step 4)");
    // BEGIN SOLUTION
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    csd::check(::sigprocmask(SIG_BLOCK, &usr1, nullptr), "sigprocmask");
    const csd::Fd signals(csd::check(::signalfd(-1, &usr1, SFD_CLOEXEC), "signalfd"));
    say("ready");
    LineEcho lines;
    for (;;) {
        race_window(window_us);  // blocked: a signal stays pending, readable
        fd_set readable;
        if (!wait_readable(signals.get(), readable)) continue;
        if (FD_ISSET(signals.get(), &readable)) {
            say("got SIGUSR1");
            return 0;
        }
        if (!lines.read_from(STDIN_FILENO)) {
            say("end of input");
            return 0;
        }
    }
    // END SOLUTION
}

/// Parses the command line; exits with status 2 and a usage line on error.
Options parse(int argc, char** argv) {
    Options o;
    int c = 0;
    while ((c = ::getopt(argc, argv, "m:w:")) != -1) {
        const std::string_view value = optarg == nullptr ? "" : optarg;
        if (c == 'm' && value == "selfpipe") {
            o.mode = Mode::selfpipe;
        } else if (c == 'm' && value == "pselect") {
            o.mode = Mode::pselect;
        } else if (c == 'm' && value == "signalfd") {
            o.mode = Mode::signalfd;
        } else if (c == 'm' && value == "naive") {
            o.mode = Mode::naive;
        } else if (c == 'w' && !value.empty() &&
                   value.find_first_not_of("0123456789") == std::string_view::npos &&
                   value.size() <= 9) {
            o.window_us = std::stol(std::string(value));
        } else {
            std::fprintf(stderr,
                         "usage: %s [-m selfpipe|pselect|signalfd|naive] [-w MICROSECONDS]\n",
                         argv[0]);
            std::exit(2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        switch (o.mode) {
            case Mode::selfpipe:
                return run_selfpipe(o.window_us);
            case Mode::pselect:
                return run_pselect(o.window_us);
            case Mode::signalfd:
                return run_signalfd(o.window_us);
            case Mode::naive:
                return run_naive(o.window_us);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "selfpipe: %s\n", e.what());
    }
    return 1;
}
