// A sigpipe lab program (docs/contract.md section 6, sigpipe) that is
// correct except for the one bug its name says (broken-BUG, broken_bug.hpp):
//   sigpipe-killed    SIGPIPE not ignored: the write after the reset kills it
//   sigpipe-order     reports the two errors in the wrong order
//   sigpipe-strerror  reports the read's error as strerror's text
//   sigpipe-exit1     reports both errors, then exits with status 1
//   sigpipe-constants prints "read: ECONNRESET" and "write: EPIPE" whatever
//                     its read and write did (SIGPIPE ignored)      -> epipe, read-reset
//   sigpipe-no-write  reports its read, then exits with status 0 without
//                     writing again: no SIGPIPE to survive          -> no-sigpipe
//   sigpipe-mode-ignored  accepts -m and ignores it: SIGPIPE ignored in
//                     every mode                                    -> no-sigpipe
//   sigpipe-skips-write   after a read that failed with ECONNRESET, prints
//                     "write: EPIPE" without writing (the line is right,
//                     the lesson is not)                            -> no-sigpipe
//   sigpipe-fakes-write   makes its second write only with -m none (where
//                     the grader expects it to die); otherwise prints
//                     what the write would have said                 -> epipe, no-sigpipe
//   sigpipe-fakes-epipe   the same, but only when the read failed: after an
//                     answer or a FIN it writes                      -> no-sigpipe
//   sigpipe-nosignal-handler  -m nosignal: a do-nothing SIGPIPE handler
//                     instead of MSG_NOSIGNAL, sends with flags 0    -> no-sigpipe
//   sigpipe-nosignal-blocked  -m nosignal: SIGPIPE blocked (sigprocmask)
//                     instead of MSG_NOSIGNAL, sends with flags 0    -> no-sigpipe
//   sigpipe-nosignal-late-ignore  -m nosignal: SIGPIPE ignored only after the
//                     read (not while it waits), sends with flags 0  -> no-sigpipe
//   sigpipe-nosignal-handler-prints  -m nosignal: a SIGPIPE handler prints
//                     "write: EPIPE" and exits 0, sends with flags 0 -> no-sigpipe
//   sigpipe-nosignal-first-send  -m nosignal: MSG_NOSIGNAL on the second
//                     send only (the first cannot raise SIGPIPE here) -> no-sigpipe
//   sigpipe-ignore-swaps  -m ignore: SIGPIPE ignored while it waits, set back
//                     to SIG_DFL after the read; the second send protected
//                     by MSG_NOSIGNAL instead                        -> no-sigpipe
//   sigpipe-zero-write after a reset, the second send writes 0 bytes, not the
//                     line: it fails with EPIPE all the same        -> no-sigpipe
//   sigpipe-probes-tracer after a reset, prints "write: EPIPE" without
//                     writing unless TracerPid says it is traced     -> no-sigpipe
//   sigpipe-none-raises   -m none: raise(SIGPIPE) after the read, no
//                     second write                                    -> no-sigpipe
//   sigpipe-none-keeps-disposition  -m none never sets SIG_DFL: started
//                     with SIGPIPE ignored, it survives               -> no-sigpipe
//   sigpipe-watched-exit1 right while nobody watches; while a tracer seems
//                     attached (timed getppid(), no /proc probe), exits
//                     with status 1 after its two lines: only a check
//                     that watches every run sees it                  -> no-sigpipe
//   sigpipe-log-first     no bug: writes a log line to a descriptor opened
//                     before its socket (variant.sigpipe.log-first)  -> none
// grader/broken/CMakeLists.txt proves csd-grade fails the check each bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: sigpipe-killed sigpipe no-sigpipe control read-reset
// test: sigpipe-exit1 sigpipe no-sigpipe control epipe
// test: sigpipe-order sigpipe epipe control no-sigpipe
// test: sigpipe-strerror sigpipe read-reset control no-sigpipe
//   The two lines printed as constants: right only while the server resets;
//   some runs answer or close with a FIN instead (issue 20: it had full marks).
// test: sigpipe-constants sigpipe epipe control no-sigpipe
// test: sigpipe-constants sigpipe read-reset control no-sigpipe
//   Exiting before the second write survives nothing (the untouched skeleton
//   did so for 50 points).
// test: sigpipe-no-write sigpipe no-sigpipe control read-reset
//   Output that is right, behaviour that is not (issue 20: full marks).
// test: sigpipe-mode-ignored sigpipe no-sigpipe control epipe
// test: sigpipe-skips-write sigpipe no-sigpipe control epipe
//   Writes only where dying proves it (-m none), prints the rest (red-team).
// test: sigpipe-fakes-write sigpipe epipe control read-reset
//   Every run of a program lab goes under a tracer (ProgramRun), so a
//   program that tells watched runs from the others by timing has no
//   unwatched run: this one shows its exit status 1 in all of them.
// test: sigpipe-watched-exit1 sigpipe no-sigpipe control epipe
// test: sigpipe-fakes-write sigpipe no-sigpipe control read-reset
//   The same, only after a reset: every other line is true (strace sees it).
// test: sigpipe-fakes-epipe sigpipe no-sigpipe control epipe read-reset
//   -m nosignal protected by anything but MSG_NOSIGNAL: the same survival
//   from outside; strace sees the flags and the disposition (red-team D).
// test: sigpipe-nosignal-handler sigpipe no-sigpipe control epipe
// test: sigpipe-nosignal-blocked sigpipe no-sigpipe control epipe
// test: sigpipe-nosignal-late-ignore sigpipe no-sigpipe control epipe
// test: sigpipe-nosignal-handler-prints sigpipe no-sigpipe control epipe
//   Survives every run; only the flags strace shows tell it (handout: both sends).
// test: sigpipe-nosignal-first-send sigpipe no-sigpipe control epipe
//   -m ignore that is really -m nosignal at the write (the seventh red-team:
//   full marks, SigIgn was only read while it waits).
// test: sigpipe-ignore-swaps sigpipe no-sigpipe control epipe
//   The eighth red-team's sigpipe-zerowrite (full marks).
// test: sigpipe-zero-write sigpipe no-sigpipe control epipe
//   Writes only while strace watches it (it reads its TracerPid).
// test: sigpipe-probes-tracer sigpipe no-sigpipe control epipe read-reset
//   -m none dies, but not of its write; or only when its parent left SIGPIPE
//   at its default action.
// test: sigpipe-none-raises sigpipe no-sigpipe control epipe
// test: sigpipe-none-keeps-disposition sigpipe no-sigpipe control epipe
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "broken_bug.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

std::string name(int err) {
    const char* n = ::strerrorname_np(err);
    return n != nullptr ? n : "?";
}

// A SIGPIPE handler that does nothing: the write it interrupts returns EPIPE.
void ignore_pipe(int /*sig*/) {}

// A SIGPIPE handler that prints the line the write would have given, and exits.
void print_and_exit(int /*sig*/) {
    const char line[] = "write: EPIPE\n";
    (void)!::write(STDOUT_FILENO, line, sizeof line - 1);
    ::_exit(0);
}

// Sets SIGPIPE's disposition to @p handler.
void set_sigpipe(void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGPIPE, &action, nullptr);
}

// True when a tracer is attached (the TracerPid line of /proc/self/status).
bool traced() {
    std::FILE* f = std::fopen("/proc/self/status", "re");
    if (f == nullptr) return false;
    char line[256];
    bool yes = false;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "TracerPid:", 10) == 0) yes = std::atoi(line + 10) != 0;
    }
    std::fclose(f);
    return yes;
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0],
                                "sigpipe-killed sigpipe-order sigpipe-strerror sigpipe-exit1 "
                                "sigpipe-constants sigpipe-no-write sigpipe-mode-ignored "
                                "sigpipe-skips-write sigpipe-fakes-write sigpipe-fakes-epipe "
                                "sigpipe-nosignal-handler sigpipe-nosignal-blocked "
                                "sigpipe-nosignal-late-ignore sigpipe-nosignal-handler-prints "
                                "sigpipe-nosignal-first-send "
                                "sigpipe-probes-tracer sigpipe-none-raises "
                                "sigpipe-none-keeps-disposition sigpipe-log-first "
                                "sigpipe-watched-exit1 sigpipe-ignore-swaps sigpipe-zero-write");
    int port = 0;
    std::string mode = "ignore";
    for (int c = 0; (c = ::getopt(argc, argv, "p:m:")) != -1;) {
        if (c == 'p') {
            port = std::atoi(optarg);
        } else if (c == 'm') {
            mode = optarg;
        } else {
            return 2;
        }
    }
    if (bug == "sigpipe-mode-ignored") mode = "ignore";
    if (bug == "sigpipe-killed") mode = "none";
    // The -m nosignal bugs protect the sends by something else than the flag.
    const bool nosignal_flag = mode == "nosignal" && (!bug.starts_with("sigpipe-nosignal-") ||
                                                      bug == "sigpipe-nosignal-first-send");
    if (mode != "nosignal" && !(mode == "none" && bug == "sigpipe-none-keeps-disposition")) {
        ::signal(SIGPIPE, mode == "ignore" ? SIG_IGN : SIG_DFL);
    }
    if (mode == "nosignal" && bug == "sigpipe-nosignal-handler") set_sigpipe(ignore_pipe);
    if (mode == "nosignal" && bug == "sigpipe-nosignal-handler-prints") {
        set_sigpipe(print_and_exit);
    }
    if (mode == "nosignal" && bug == "sigpipe-nosignal-blocked") {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        ::sigprocmask(SIG_BLOCK, &pipe, nullptr);
    }
    const int flags = nosignal_flag ? MSG_NOSIGNAL : 0;
    if (bug == "sigpipe-log-first") {
        // No bug: a log line written to a descriptor opened before the
        // socket (it is fd 3; the socket comes after).
        const int log = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (log >= 0 && ::write(log, "starting\n", 9) < 0) return 1;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return 1;
    const int first_flags = bug == "sigpipe-nosignal-first-send" ? 0 : flags;
    if (::send(fd, "hello\n", 6, first_flags) != 6) return 1;
    char reply[256];
    const ssize_t got = ::recv(fd, reply, sizeof reply, 0);
    const int read_err = got < 0 ? errno : 0;
    if (mode == "nosignal" && bug == "sigpipe-nosignal-late-ignore") ::signal(SIGPIPE, SIG_IGN);
    const bool swaps = mode == "ignore" && bug == "sigpipe-ignore-swaps";
    if (swaps) ::signal(SIGPIPE, SIG_DFL);
    std::string read_line =
        "read: " + (got == 0                    ? std::string("EOF")
                    : got > 0                   ? std::to_string(got) + " bytes"
                    : bug == "sigpipe-strerror" ? std::string(std::strerror(read_err))
                                                : name(read_err));
    if (bug == "sigpipe-constants") read_line = "read: ECONNRESET";
    if (bug != "sigpipe-order") {
        std::printf("%s\n", read_line.c_str());
        std::fflush(stdout);
    }
    if (bug == "sigpipe-no-write") return 0;
    if (bug == "sigpipe-none-raises" && mode == "none") ::raise(SIGPIPE);
    const bool skip = (bug == "sigpipe-skips-write" && read_err == ECONNRESET) ||
                      (bug == "sigpipe-fakes-write" && mode != "none") ||
                      (bug == "sigpipe-fakes-epipe" && mode != "none" && got < 0) ||
                      (bug == "sigpipe-probes-tracer" && mode != "none" && got < 0 && !traced());
    const bool would_fail = got < 0;  // what the fake says: EPIPE after a reset
    // sigpipe-zero-write: after a reset, an empty send (EPIPE all the same).
    const std::size_t length = bug == "sigpipe-zero-write" && got < 0 ? 0 : 6;
    const ssize_t sent = !skip        ? ::send(fd, "hello\n", length, swaps ? MSG_NOSIGNAL : flags)
                         : would_fail ? -1
                                      : 6;
    if (skip && would_fail) errno = EPIPE;
    const std::string write_line = bug == "sigpipe-constants" ? "write: EPIPE"
                                   : sent < 0                 ? "write: " + name(errno)
                                              : "write: " + std::to_string(sent) + " bytes";
    std::printf("%s\n", write_line.c_str());
    if (bug == "sigpipe-order") std::printf("%s\n", read_line.c_str());
    std::fflush(stdout);
    ::close(fd);
    if (bug == "sigpipe-watched-exit1" && broken::tracer_by_timing()) return 1;
    return bug == "sigpipe-exit1" ? 1 : 0;
}
