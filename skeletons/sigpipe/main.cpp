// Lab "sigpipe": a client program (not a server) that talks to a server
// which resets the connection, and survives writing to it afterwards.
//
// The command line and the output are in docs/contract.md, section 6
// (sigpipe). The handout, labs/sigpipe/handout.md, explains what a write
// to a reset connection does and the two ways to survive it; the TODOs
// below name its steps ("handout step N").
//
// Given: the command line, and how to name an errno value and print a line.
// Yours: SIGPIPE's disposition (-m ignore, -m none) and MSG_NOSIGNAL
// (-m nosignal); the exchange that provokes the reset (connecting, the first
// send); what the read and the second send on the reset connection give,
// reported as the contract says.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "csd/core.hpp"  // the sigpipe lab links csd::lab_core only: no signal handling

namespace {

/// How the program protects itself from SIGPIPE (-m).
enum class Mode {
    ignore,    ///< SIGPIPE ignored for the whole process (the default).
    nosignal,  ///< Every send() with MSG_NOSIGNAL.
    none,      ///< No protection: the handout's experiment (killed by SIGPIPE).
};

/// The command line: `PROGRAM -p PORT [-m ignore|nosignal|none]`.
struct Options {
    std::uint16_t port = 0;    ///< -p: the server's port on 127.0.0.1.
    Mode mode = Mode::ignore;  ///< -m: how to survive SIGPIPE.
};

/// The line the program sends, twice.
constexpr std::string_view request = "hello\n";

/// Prints @p line and a newline on stdout, flushed (stdout is a pipe).
void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

/// "ECONNRESET" for ECONNRESET: the name of an errno value.
std::string errno_name(int err) {
    const char* name = ::strerrorname_np(err);
    return name != nullptr ? name : "errno " + std::to_string(err);
}

/// A connected TCP socket to 127.0.0.1:@p port (blocking, CLOEXEC).
csd::Fd connect_loopback(std::uint16_t port) {
    // TODO (handout step 3): a TCP socket connected to 127.0.0.1, port
    // @p port (socket(2), connect(2); ip(7): the address and the port are
    // in network byte order). Blocking: each call waits for its answer. A
    // failure throws (csd::check): the program then exits with status 1.
    (void)port;
    return csd::Fd{};  // no socket yet
}

/// Parses the command line; exits with status 2 and a usage line on error.
Options parse(int argc, char** argv) {
    Options o;
    int c = 0;
    bool ok = true;
    while ((c = ::getopt(argc, argv, "p:m:")) != -1) {
        const std::string_view value = optarg == nullptr ? "" : optarg;
        if (c == 'p') {
            const long port = std::strtol(optarg, nullptr, 10);
            ok = ok && port > 0 && port < 65536;
            o.port = static_cast<std::uint16_t>(port);
        } else if (c == 'm' && value == "ignore") {
            o.mode = Mode::ignore;
        } else if (c == 'm' && value == "nosignal") {
            o.mode = Mode::nosignal;
        } else if (c == 'm' && value == "none") {
            o.mode = Mode::none;
        } else {
            ok = false;
        }
    }
    if (!ok || o.port == 0) {
        std::fprintf(stderr, "usage: %s -p PORT [-m ignore|nosignal|none]\n", argv[0]);
        std::exit(2);
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        // TODO (handout step 1): with -m ignore, make the whole process
        // immune to SIGPIPE before its first write; with -m none, give it
        // the default action, whatever disposition the parent left (it
        // survives exec): the signal's disposition (signal(7), sigaction(2)).
        (void)o;  // o.mode: -m; o.port: -p
        // TODO (handout step 2): with -m nosignal, leave the disposition alone
        // and ask each send for no signal instead (send(2), its flags).
        const int flags = 0;

        // TODO (handout step 3): provoke the reset. Connect to the server
        // (connect_loopback(), yours to write) and send it the line
        // `request`, with the flags: the connection is still open, so this
        // send succeeds, and the server resets the connection once it has
        // the line. A failed send is an error (exit status 1).
        (void)connect_loopback;  // yours to write, then to call
        (void)request;
        (void)flags;

        // TODO (handout step 4): read from the socket once and report what
        // the read gave, in the `read: ...` line of docs/contract.md
        // section 6: the error by its errno name (errno_name()), `EOF`, or
        // the bytes it got (tcp(7) on what a reset does to a read).
        (void)errno_name;  // the given helpers: yours to call
        (void)say;

        // TODO (handout step 5): send the line again, on the connection that
        // was reset, with the same flags, and report what the write gave in
        // the `write: ...` line (send(2), ERRORS; the handout's "Why this
        // design": what a write to a reset connection does).
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sigpipe: %s\n", e.what());
        return 1;
    }
}
