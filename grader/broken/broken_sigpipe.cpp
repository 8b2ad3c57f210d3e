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
// test: sigpipe-fakes-write sigpipe no-sigpipe control read-reset
//   The same, only after a reset: every other line is true (strace sees it).
// test: sigpipe-fakes-epipe sigpipe no-sigpipe control epipe read-reset
#include <arpa/inet.h>
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

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0],
                                "sigpipe-killed sigpipe-order sigpipe-strerror sigpipe-exit1 "
                                "sigpipe-constants sigpipe-no-write sigpipe-mode-ignored "
                                "sigpipe-skips-write sigpipe-fakes-write sigpipe-fakes-epipe");
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
    if (mode != "nosignal") ::signal(SIGPIPE, mode == "ignore" ? SIG_IGN : SIG_DFL);
    const int flags = mode == "nosignal" ? MSG_NOSIGNAL : 0;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return 1;
    if (::send(fd, "hello\n", 6, flags) != 6) return 1;
    char reply[256];
    const ssize_t got = ::recv(fd, reply, sizeof reply, 0);
    const int read_err = got < 0 ? errno : 0;
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
    const bool skip = (bug == "sigpipe-skips-write" && read_err == ECONNRESET) ||
                      (bug == "sigpipe-fakes-write" && mode != "none") ||
                      (bug == "sigpipe-fakes-epipe" && mode != "none" && got < 0);
    const bool would_fail = got < 0;  // what the fake says: EPIPE after a reset
    const ssize_t sent = !skip ? ::send(fd, "hello\n", 6, flags) : would_fail ? -1 : 6;
    if (skip && would_fail) errno = EPIPE;
    const std::string write_line = bug == "sigpipe-constants" ? "write: EPIPE"
                                   : sent < 0                 ? "write: " + name(errno)
                                              : "write: " + std::to_string(sent) + " bytes";
    std::printf("%s\n", write_line.c_str());
    if (bug == "sigpipe-order") std::printf("%s\n", read_line.c_str());
    std::fflush(stdout);
    ::close(fd);
    return bug == "sigpipe-exit1" ? 1 : 0;
}
