// sigterm: SIGTERM ends the whole server tree, exit status 0, within 2 s,
// even when it comes while new clients keep connecting.
//
// A few short rounds, each on a freshly started server (the first one on the
// server the earlier checks used): two idle clients, then a burst of new
// connections from a thread of the grader, some silent, some sending a
// request; SIGTERM lands in the middle of the burst, right after a volley
// of connections opened at once, and the burst goes on until the server is
// gone. A forking server whose child can take the SIGTERM before
// it reset the parent's signal handlers (fork() then reset, instead of
// csd::fork_child()) loses that SIGTERM and serves its idle client for ever:
// the burst makes such a fork likely at the moment of the SIGTERM, the
// rounds give it several chances.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <system_error>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// Rounds of the check (one server start each).
constexpr int rounds = 12;
/// Most connections one burst opens (below every lab's caps: 512 children,
/// FD_SETSIZE, the grader's own descriptors).
constexpr std::size_t burst_limit = 300;
/// The pause between two connections of a burst (scaled).
constexpr auto burst_pace = 50us;
/// Connections opened at once right before the SIGTERM.
constexpr std::size_t volley_size = 10;
/// How long the burst runs before SIGTERM, in round r (from 0): (r + 1)
/// times this (scaled), so that the SIGTERM finds the server at different
/// points.
constexpr auto first_kill_delay = 3ms;

/// New connections to a port, opened by a thread of its own until stop()
/// or burst_limit: every third one sends a request for 1 byte (never read),
/// the others stay silent. A connection that fails (refused once the
/// server closed its listener, out of descriptors) is expected, not an
/// error. Owns the thread and the connections; used from the thread that
/// made it (the connections are the burst thread's until stop()).
class Burst {
  public:
    explicit Burst(std::uint16_t port) : thread_([this, port] { run(port); }) {}
    ~Burst() { stop(); }
    Burst(const Burst&) = delete;
    Burst& operator=(const Burst&) = delete;

    /// Ends the burst and closes its connections (idempotent).
    void stop() {
        done_.store(true);
        if (thread_.joinable()) thread_.join();
        connections_.clear();
    }
    /// Connections started so far (any thread).
    [[nodiscard]] std::size_t opened() const noexcept { return opened_.load(); }

  private:
    void run(std::uint16_t port) {
        std::vector<Connection*> to_send;  // requests not sent yet (connect in progress)
        while (!done_.load() && connections_.size() < burst_limit) {
            try {
                connections_.push_back(Connection::begin_open(port));
            } catch (const std::system_error&) {
                break;  // out of descriptors: enough of a burst
            }
            opened_.store(connections_.size());
            if (connections_.size() % 3 == 0) to_send.push_back(&connections_.back());
            // A request goes out once its connect completed; a refused or
            // reset connection drops it.
            std::erase_if(to_send, [](Connection* c) { return c->send_some("1\n") != 0; });
            std::this_thread::sleep_for(scaled(burst_pace));
        }
        while (!done_.load()) std::this_thread::sleep_for(1ms);
    }

    // Reserved up front: to_send keeps pointers into it.
    std::vector<Connection> connections_ = [] {
        std::vector<Connection> v;
        v.reserve(burst_limit);
        return v;
    }();
    std::atomic<bool> done_{false};
    std::atomic<std::size_t> opened_{0};
    std::thread thread_;  // last: starts once the members above exist
};

// "1234 (name, child of 1200, own session)" for each pid still alive.
std::string describe_left(const std::vector<pid_t>& pids, pid_t server) {
    std::string text;
    for (std::size_t i = 0; i < pids.size() && i < 10; ++i) {
        text += i ? ", " : "";
        const auto st = procfs::read_stat(pids[i]);
        if (!st) {
            text += std::to_string(pids[i]);
            continue;
        }
        text += fmt::format("{} ({}", st->pid, st->comm);
        if (st->pgrp != server) text += ", left the server's process group";
        if (st->session == st->pid) text += ", called setsid()";
        text += ")";
    }
    if (pids.size() > 10) text += fmt::format(" and {} more", pids.size() - 10);
    return text;
}

/// One round: idle clients, a burst, SIGTERM in the middle of it.
void sigterm_round(Context& ctx, int round) {
    // Two idle clients, served once so that a forking server has children now
    // (an iterative server serves only the first one; the second waits).
    std::vector<Connection> idle;
    for (int i = 1; i <= 2; ++i) {
        const std::string what = fmt::format("idle client {} of 2", i);
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        idle.back().send_all(request_line(1), Deadline(3s), what);
        if (i == 1 || ctx.lab().model != Model::single_process) {
            expect_lab_reply(ctx.lab(), idle.back(), 1, Deadline(3s), what);
        }
    }
    const pid_t top = ctx.pid();
    Burst burst(ctx.port());
    std::this_thread::sleep_for(scaled(first_kill_delay * (round + 1)));
    const auto tree = procfs::descendants(top);
    // A volley right before the SIGTERM: the server is surely accepting (a
    // forking one: forking) when it comes.
    std::vector<Connection> volley;
    for (std::size_t i = 0; i < volley_size; ++i) {
        volley.push_back(Connection::begin_open(ctx.port()));
    }
    const std::size_t before = burst.opened() + volley.size();
    ctx.log("round {}: SIGTERM to pid {} ({} descendants, {} connections of the burst so far)",
            round + 1, top, tree.size(), before);
    ::kill(top, SIGTERM);

    const Deadline two_seconds(2s);
    std::optional<int> status;
    std::vector<pid_t> left;
    for (;;) {
        status = child_status(top);
        reap_children();
        left = live_descendants_of_grader();
        if ((status && left.empty()) || two_seconds.expired()) break;
        std::this_thread::sleep_for(10ms);
    }
    burst.stop();
    const std::size_t total = burst.opened() + volley.size();
    const std::string when = fmt::format(
        "round {} of {}: SIGTERM came during a burst of {} new connections ({} before it, {} "
        "after; some idle, some sending a request), with 2 idle clients connected",
        round + 1, rounds, total, before, total - before);
    if (!status) {
        fail(
            fmt::format("the server (pid {}) was still running 2 s after SIGTERM ({})", top, when));
    }
    if (!left.empty()) {
        fail(fmt::format(
            "the server {} after SIGTERM, but 2 s later {} of its processes still "
            "ran: {} ({})",
            describe_wait_status(*status), left.size(), describe_left(left, top), when));
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        fail(fmt::format("the server {} after SIGTERM ({}); expected exit status 0",
                         describe_wait_status(*status), when));
    }
}

}  // namespace

void check_sigterm(Context& ctx) {
    for (int round = 0; round < rounds; ++round) {
        if (round > 0) {
            const Readiness again = ctx.server().start(5s, ctx.server().args());
            if (!again.accepting) {
                fail(
                    fmt::format("round {} of {}: the server did not start again after the "
                                "previous round's SIGTERM: {}",
                                round + 1, rounds, again.problem));
            }
        }
        sigterm_round(ctx, round);
    }
}

}  // namespace csd::grade
