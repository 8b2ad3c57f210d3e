// The sigpipe lab's checks (docs/contract.md section 6, sigpipe): the
// program talks to a server that resets it (the grader's own, here), and
// reports ECONNRESET, then EPIPE, without being killed by SIGPIPE. In some
// runs the grader's server answers instead, or closes with a FIN: the
// program must report what its read and write really did, so lines printed
// as constants fail.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "checks.hpp"
#include "csd/error.hpp"
#include "csd/net.hpp"
#include "process.hpp"
#include "program.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr int runs = 20;

// What the grader's server does once it has read the program's line.
enum class Peer {
    reset,  // closes with SO_LINGER {on, 0}: an RST, no FIN
    reply,  // answers "hi\n" (3 bytes) and keeps the connection open
    fin,    // closes normally: a FIN
};

// What one run of the program against the grader's server came to.
struct SigpipeRun {
    std::string command = {};             // PROGRAM -p PORT
    std::vector<std::string> lines = {};  // its stdout, line by line
    std::optional<int> status = {};       // its wait status (nullopt: still running, killed)
    std::string description = {};         // how it ended, with its stderr tail
    Peer peer = Peer::reset;              // what the grader's server did
};

// Waits until @p fd is readable or @p deadline; false at the deadline.
bool wait_readable(int fd, Deadline deadline) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    for (;;) {
        const int n = ::poll(&p, 1, deadline.poll_ms());
        if (n > 0) return true;
        if (n == 0 || deadline.expired()) return false;
    }
}

// The peer of run @p i (1-based): mostly resets, the lesson; every fourth
// run answers, every fourth closes with a FIN.
Peer peer_of_run(int i) {
    return i % 4 == 3 ? Peer::reply : i % 4 == 2 ? Peer::fin : Peer::reset;
}

// What @p peer does, for messages.
std::string_view peer_text(Peer peer) {
    switch (peer) {
        case Peer::reset:
            return "reset the connection";
        case Peer::reply:
            return "answered \"hi\\n\" and kept the connection open";
        case Peer::fin:
            return "closed the connection normally (FIN)";
    }
    return "?";
}

// The two lines a correct program prints against @p peer.
std::vector<std::string> expected_lines(Peer peer) {
    switch (peer) {
        case Peer::reset:
            return {"read: ECONNRESET", "write: EPIPE"};
        case Peer::reply:
            return {"read: 3 bytes", "write: 6 bytes"};
        case Peer::fin:
            return {"read: EOF", "write: 6 bytes"};
    }
    return {};
}

// The grader's server: accepts the program's connection, reads its first
// line, then does what @p peer says. Returns the connection when it stays
// open (reply), for the caller to close once the program has ended.
csd::Fd serve_one(int listener, ProgramRun& run, Peer peer) {
    if (!wait_readable(listener, Deadline(2s))) {
        fail(fmt::format("`{}` did not connect within 2 s; it {}", run.command_line(),
                         run.describe()));
    }
    csd::Fd conn(csd::check(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC), "accept4"));
    std::string got;
    const Deadline deadline(2s);
    while (got.find('\n') == std::string::npos) {
        char chunk[256];
        if (!wait_readable(conn.get(), deadline)) {
            fail(fmt::format("`{}` connected but sent no line within 2 s (got \"{}\"); it {}",
                             run.command_line(), got, run.describe()));
        }
        const ssize_t n = ::recv(conn.get(), chunk, sizeof chunk, 0);
        if (n <= 0) {
            fail(fmt::format("`{}` closed the connection before sending its line; it {}",
                             run.command_line(), run.describe()));
        }
        got.append(chunk, static_cast<std::size_t>(n));
    }
    switch (peer) {
        case Peer::reset: {
            const linger reset{.l_onoff = 1, .l_linger = 0};
            csd::check(::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset),
                       "setsockopt(SO_LINGER)");
            return {};  // conn closes here: RST
        }
        case Peer::reply:
            csd::check(::send(conn.get(), "hi\n", 3, MSG_NOSIGNAL), "send");
            return conn;
        case Peer::fin:
            return {};  // conn closes here: FIN
    }
    return {};
}

// One run: PROGRAM -p PORT against a fresh server that behaves as @p peer.
SigpipeRun run_once(const std::string& program, Peer peer) {
    const csd::Fd listener = csd::listen_tcp("127.0.0.1", 0, {.backlog = 4});
    const auto port = csd::local_port(listener.get());
    ProgramRun run(program, {"-p", std::to_string(port)});
    const csd::Fd kept = serve_one(listener.get(), run, peer);
    SigpipeRun r{.command = run.command_line(), .peer = peer};
    r.status = run.wait(Deadline(2s));
    for (;;) {
        const LineResult line = run.read_line(Deadline(0ms));
        if (!line.line) break;
        r.lines.push_back(*line.line);
    }
    r.description = run.describe();
    return r;
}

// Its stdout, quoted line by line, for messages.
std::string shown(const SigpipeRun& r) {
    if (r.lines.empty()) return "nothing";
    std::string text;
    for (const auto& l : r.lines) text += "\n  " + l;
    return text;
}

// Runs the program `runs` times, against the peer of each run; @p judge
// returns what was wrong ("" if nothing).
template <typename Judge>
void check_runs(Context& ctx, Judge&& judge) {
    for (int i = 1; i <= runs; ++i) {
        const SigpipeRun r = run_once(ctx.program(), peer_of_run(i));
        const std::string problem = judge(r);
        if (!problem.empty()) {
            fail(
                fmt::format("run {} of {}: the server {} after the line of `{}`: it {}; its "
                            "stdout: {}",
                            i, runs, peer_text(r.peer), r.command, problem, shown(r)));
        }
    }
}

}  // namespace

void check_read_reset(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        const std::string want = expected_lines(r.peer).front();
        if (r.lines.empty() || r.lines.front() != want) {
            return "should first print \"" + want + "\" (it " + r.description + ")";
        }
        return {};
    });
}

void check_no_sigpipe(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        if (!r.status) return "was still running 2 s later";
        if (WIFSIGNALED(*r.status) || !WIFEXITED(*r.status) || WEXITSTATUS(*r.status) != 0) {
            return r.description + " (it should exit with status 0)";
        }
        return {};
    });
}

void check_epipe(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        const std::vector<std::string> expected = expected_lines(r.peer);
        if (r.lines != expected) {
            return "should print exactly \"" + expected[0] + "\" then \"" + expected[1] +
                   "\" (it " + r.description + ")";
        }
        return {};
    });
}

CSD_CHECK(read_reset) {
    return {"read-reset", 10, check_read_reset,
            "20 runs against a server that resets the connection after the first line (in some "
            "runs it answers 3 bytes, or closes with a FIN): the first thing printed is what the "
            "read got, `read: ECONNRESET` (or `read: 3 bytes`, `read: EOF`)",
            "send your line, then read: the server answers with an RST, so read() fails with "
            "ECONNRESET; print what read() really returned (the errno's name, `EOF` for 0, "
            "`N bytes` otherwise) and flush"};
}

CSD_CHECK(no_sigpipe) {
    return {"no-sigpipe", 10, check_no_sigpipe,
            "20 runs: writing after the reset does not kill the program (SIGPIPE); it exits with "
            "status 0",
            "a write to a connection that was reset raises SIGPIPE, whose default action kills the "
            "process: ignore it (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and the "
            "write fails with EPIPE instead"};
}

CSD_CHECK(epipe) {
    return {"epipe", 10, check_epipe,
            "20 runs: stdout is exactly `read: ECONNRESET` then `write: EPIPE` after a reset "
            "(`read: 3 bytes`, `write: 6 bytes` after an answer; `read: EOF`, `write: 6 bytes` "
            "after a FIN)",
            "after the read, write your line again: after a reset it fails with EPIPE; print what "
            "write() really did (\"write: EPIPE\", the errno's name, not strerror's text; or "
            "\"write: N bytes\"), flush, and return 0"};
}

}  // namespace csd::grade
