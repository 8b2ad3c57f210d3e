// The sigpipe lab's checks (docs/contract.md section 6, sigpipe): the
// program talks to a server that resets it (the grader's own, here), and
// reports ECONNRESET, then EPIPE, without being killed by SIGPIPE.
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

// What one run of the program against the resetting server came to.
struct SigpipeRun {
    std::string command = {};             // PROGRAM -p PORT
    std::vector<std::string> lines = {};  // its stdout, line by line
    std::optional<int> status = {};       // its wait status (nullopt: still running, killed)
    std::string description = {};         // how it ended, with its stderr tail
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

// The grader's resetting server: accepts the program's connection, reads
// its first line, then closes with SO_LINGER {on, 0}: an RST, no FIN.
void reset_one(int listener, ProgramRun& run) {
    if (!wait_readable(listener, Deadline(2s))) {
        fail(fmt::format("`{}` did not connect within 2 s; it {}", run.command_line(),
                         run.describe()));
    }
    const csd::Fd conn(csd::check(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC), "accept4"));
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
    const linger reset{.l_onoff = 1, .l_linger = 0};
    csd::check(::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset),
               "setsockopt(SO_LINGER)");
}  // conn closes here: RST

// One run: PROGRAM -p PORT against a fresh resetting server.
SigpipeRun run_once(const std::string& program) {
    const csd::Fd listener = csd::listen_tcp("127.0.0.1", 0, {.backlog = 4});
    const auto port = csd::local_port(listener.get());
    ProgramRun run(program, {"-p", std::to_string(port)});
    reset_one(listener.get(), run);
    SigpipeRun r{.command = run.command_line()};
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

// Runs the program `runs` times; @p judge returns what was wrong ("" if nothing).
template <typename Judge>
void check_runs(Context& ctx, Judge&& judge) {
    for (int i = 1; i <= runs; ++i) {
        const SigpipeRun r = run_once(ctx.program());
        const std::string problem = judge(r);
        if (!problem.empty()) {
            fail(
                fmt::format("run {} of {}: the server reset `{}` after its line: it {}; its "
                            "stdout: {}",
                            i, runs, r.command, problem, shown(r)));
        }
    }
}

}  // namespace

void check_read_reset(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        if (r.lines.empty() || r.lines.front() != "read: ECONNRESET") {
            return "should first print \"read: ECONNRESET\" (it " + r.description + ")";
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
        const std::vector<std::string> expected = {"read: ECONNRESET", "write: EPIPE"};
        if (r.lines != expected) {
            return "should print exactly \"read: ECONNRESET\" then \"write: EPIPE\" (it " +
                   r.description + ")";
        }
        return {};
    });
}

CSD_CHECK(read_reset) {
    return {"read-reset", 10, check_read_reset,
            "20 runs against a server that resets the connection after the first line: the first "
            "thing printed is `read: ECONNRESET`",
            "send your line, then read: the server answers with an RST, so read() fails with "
            "ECONNRESET; print \"read: ECONNRESET\" and flush"};
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
            "20 runs: stdout is exactly `read: ECONNRESET` then `write: EPIPE`",
            "after the failed read, write your line again: it fails with EPIPE; print \"write: "
            "EPIPE\" (the errno's name, not strerror's text), flush, and return 0"};
}

}  // namespace csd::grade
