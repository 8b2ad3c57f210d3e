// Lab "sigpipe": a client program (not a server) that talks to a server
// which resets the connection, and survives writing to it afterwards.
//
// The command line and the output are in docs/contract.md, section 6
// (sigpipe). The handout, labs/sigpipe/handout.md, explains what a write
// to a reset connection does and the two ways to survive it; the TODOs
// below name its steps ("handout step N").
//
// Given: the command line (the lab library's parser, as in the servers), and
// how to name an errno value and print a line.
// Yours: SIGPIPE's disposition (-m ignore, -m none) and MSG_NOSIGNAL
// (-m nosignal); the exchange that provokes the reset (connecting, the first
// send); what the read and the second send on the reset connection give,
// reported as the contract says.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
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

/// A TCP socket connected to @p host (an IPv4 address), port @p port
/// (blocking, CLOEXEC).
csd::Fd connect_to(const std::string& host, std::uint16_t port) {
    // TODO (handout step 3): a TCP socket connected to @p host, port @p port
    // (socket(2), connect(2); ip(7): the address and the port are in
    // network byte order, inet_pton(3) turns the text into the address).
    // Blocking: each call waits for its answer. A failure throws
    // (csd::check, or an exception of yours for an address that is not
    // one): the program then exits with status 1.
    (void)host;
    (void)port;
    return csd::Fd{};  // no socket yet
}

}  // namespace

int main(int argc, char** argv) {
    // `PROGRAM [-i HOST] [-p PORT] [-m ignore|nosignal|none]`: a bad command
    // line prints the usage and exits with status 2.
    const csd::CommandLine command_line{.flags = {{.letter = 'm',
                                                   .help = "how to survive SIGPIPE",
                                                   .value_name = "MODE",
                                                   .choices = {"ignore", "nosignal", "none"},
                                                   .default_value = "ignore"}},
                                        .client = true};
    const csd::ServerOptions o = csd::parse_server_options(argc, argv, command_line);
    const std::string m = o.value('m');
    const Mode mode = m == "nosignal" ? Mode::nosignal : m == "none" ? Mode::none : Mode::ignore;
    try {
        // TODO (handout step 1): with -m ignore, make the whole process
        // immune to SIGPIPE before its first write; with -m none, give it
        // the default action, whatever disposition the parent left (it
        // survives exec): the signal's disposition (signal(7), sigaction(2)).
        (void)mode;  // -m; o.host and o.port: -i and -p
        // TODO (handout step 2): with -m nosignal, leave the disposition alone
        // and ask each send for no signal instead (send(2), its flags).
        const int flags = 0;

        // TODO (handout step 3): provoke the reset. Connect to the server
        // (connect_to(), yours to write, at -i and -p) and send it the line
        // `request`, with the flags: the connection is still open, so this
        // send succeeds, and the server resets the connection once it has
        // the line. A failed send is an error (exit status 1).
        (void)connect_to;  // yours to write, then to call
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
