// What the sigpipe lab's checks share: runs of the program against the
// grader's own server, which resets the connection after the program's line
// (in some runs it answers, or closes with a FIN instead), and what a
// correct program prints against each (docs/contract.md section 6,
// sigpipe).
#include "sigpipe_runs.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "csd/error.hpp"
#include "csd/net.hpp"
#include "procfs.hpp"
#include "program.hpp"
#include "server.hpp"
#include "trace.hpp"

namespace csd::grade::sigpipe {

using namespace std::chrono_literals;

namespace {

// Waits until @p fd is readable or @p deadline; false at the deadline.
bool wait_readable(int fd, Deadline deadline) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    for (;;) {
        const int n = ::poll(&p, 1, deadline.poll_ms());
        if (n > 0) return true;
        if (n == 0 || deadline.expired()) return false;
    }
}

// The grader's server: accepts the program's connection, reads its first
// line, notes in @p r whether SIGPIPE is ignored while the program waits,
// then does what @p peer says. Returns the connection when it stays open
// (reply), for the caller to close once the program has ended.
csd::Fd serve_one(int listener, ProgramRun& run, Peer peer, SigpipeRun& r) {
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
    // The program made its first write, so its protection is in place.
    if (const auto ignored = procfs::signal_mask(run.pid(), "SigIgn:")) {
        r.sigpipe_ignored = (*ignored & (1ULL << (SIGPIPE - 1))) != 0;
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

}  // namespace

Peer peer_of_run(int i) {
    return i % 4 == 3 ? Peer::reply : i % 4 == 2 ? Peer::fin : Peer::reset;
}

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

SigpipeRun run_once(const std::string& program, Peer peer,
                    const std::vector<std::string>& mode_args, bool parent_ignores_sigpipe) {
    const csd::Fd listener = csd::listen_tcp("127.0.0.1", 0, {.backlog = 4});
    const auto port = csd::local_port(listener.get());
    std::vector<std::string> args{"-p", std::to_string(port)};
    args.insert(args.end(), mode_args.begin(), mode_args.end());
    ProgramRun run(program, args, parent_ignores_sigpipe ? SIGPIPE : 0);
    SigpipeRun r{.command = run.command_line(), .peer = peer};
    const csd::Fd kept = serve_one(listener.get(), run, peer, r);
    r.status = run.wait(Deadline(2s));
    if (kept) {
        // What the program sent after the answer: its second write, or nothing.
        std::size_t got = 0;
        const Deadline drain(200ms);
        while (wait_readable(kept.get(), drain)) {
            char chunk[256];
            const ssize_t n = ::recv(kept.get(), chunk, sizeof chunk, MSG_DONTWAIT);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        r.after_answer = got;
    }
    for (;;) {
        const LineResult line = run.read_line(Deadline(0ms));
        if (!line.line) break;
        r.lines.push_back(*line.line);
    }
    r.description = run.describe();
    return r;
}

std::optional<std::string> traced_reset_run(const std::string& program,
                                            const std::vector<std::string>& mode_args,
                                            std::string& why_not) {
    const std::string strace = find_strace();
    if (strace.empty()) {
        why_not = "strace is not installed";
        return std::nullopt;
    }
    char path[] = "/tmp/csd-grade-sigpipe-XXXXXX";
    const csd::Fd out(csd::check(::mkstemp(path), "mkstemp"));
    const std::string out_path = path;
    const csd::Fd listener = csd::listen_tcp("127.0.0.1", 0, {.backlog = 4});
    const auto port = csd::local_port(listener.get());
    {
        std::vector<std::string> args{"-f",
                                      "-qq",
                                      "-e",
                                      std::string("trace=") + traced_calls + tracer_probe_calls,
                                      "-e",
                                      "signal=SIGPIPE",
                                      "-o",
                                      out_path,
                                      program,
                                      "-p",
                                      std::to_string(port)};
        args.insert(args.end(), mode_args.begin(), mode_args.end());
        ProgramRun run(strace, args, 0, ProgramRun::Tracer::none);  // strace is its tracer
        SigpipeRun ignored;
        (void)serve_one(listener.get(), run, Peer::reset, ignored);
        (void)run.wait(Deadline(3s));
    }
    std::string text = read_all(out.get());
    ::unlink(out_path.c_str());
    return text;
}

std::string shown(const SigpipeRun& r) {
    if (r.lines.empty()) return "nothing";
    std::string text;
    for (const auto& l : r.lines) text += "\n  " + l;
    return text;
}

}  // namespace csd::grade::sigpipe
