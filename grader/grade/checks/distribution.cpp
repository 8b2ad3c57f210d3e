// distribution (labs prefork and fdpass): after SIGTERM the server prints
// one line per worker slot of its pool of -n processes (docs/contract.md,
// "Distribution report"), the lines add up to the connections the grader
// made, and each worker's line counts the connections the grader saw that
// worker serve (the process holding the connection's socket once its reply
// came, /proc): a report that puts every count in one slot, or shares the
// sum out evenly, is wrong. The connections: bursts, then 256 N + 1 short
// ones one after another, so that some worker serves more than 255: a count
// carried in 8 bits (a worker's exit status, a byte) comes out wrong.
// Halfway through the bursts one worker is killed and replaced: its slot's
// counts go on (the contract), so its line counts what both served. In prefork, then, the useless
// wakeups: started with -m select, where idle workers wake for each
// connection and all but one may find none to accept, the report must
// count the accepts that found none as strace sees them (a report that
// always says 0 is made up); and the same with -m epoll.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "modes.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "strace_text.hpp"
#include "trace.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace worker_pool;

namespace {

/// The distribution lines a server printed after SIGTERM (docs/contract.md,
/// "Distribution report"); other lines are left out.
struct Report {
    std::set<int> slots;                         ///< The slots of the lines.
    std::map<pid_t, std::uint64_t> connections;  ///< Pid of a line -> its connections.
    std::uint64_t sum = 0;                       ///< The connections of every line.
    std::uint64_t wakeups = 0;                   ///< The useless wakeups of every line.
    std::string lines;                           ///< The lines, joined with "; ".
};

Report read_report(const std::string& text) {
    static const std::regex line_format(
        R"(worker (\d+) pid (\d+) connections (\d+) useless-wakeups (\d+))");
    Report r;
    std::istringstream out(text);
    for (std::string line; std::getline(out, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, line_format)) continue;
        r.slots.insert(std::stoi(m[1].str()));
        r.sum += std::stoull(m[3].str());
        r.connections[static_cast<pid_t>(std::stol(m[2].str()))] += std::stoull(m[3].str());
        r.wakeups += std::stoull(m[4].str());
        r.lines += (r.lines.empty() ? "" : "; ") + line;
    }
    return r;
}

/// SIGTERM to the server, which must exit within 2 s; its children reaped.
/// @p label, when not empty, comes first in the failure.
void stop_for_report(Context& ctx, std::string_view label) {
    const pid_t top = ctx.pid();
    ::kill(top, SIGTERM);
    if (!wait_child(top, Deadline(2s))) {
        fail(fmt::format("{}{}the server (pid {}) still ran 2 s after SIGTERM", label,
                         label.empty() ? "" : ": ", top));
    }
    reap_children();
}

/// The connections made one after another in -m select.
constexpr int herd_connections = 20;

/// The accept calls of one traced worker that found no connection
/// (-1 EAGAIN): its useless wakeups.
std::uint64_t failed_accepts(const std::string& trace) {
    std::uint64_t n = 0;
    for (const StraceCall& c : parse_strace(trace)) {
        if ((c.name == "accept" || c.name == "accept4") && c.result.starts_with("-1 EAGAIN")) ++n;
    }
    return n;
}

/// In -m @p mode (one where every idle worker wakes for each connection:
/// modes::wakes_every_worker()) the report's useless wakeups are the workers' accepts that
/// found no connection, as strace sees them (each worker traced while
/// herd_connections connections come one after another): a report that
/// always says 0, or counts something else, does not follow them. Where
/// strace cannot attach, left out.
void require_herd_counted(Context& ctx, int n, const LabMode& mode) {
    auto args = ctx.start_args("modes");  // -n, no mode flag
    for (const auto a : mode.args) args.emplace_back(a);
    const std::string label = fmt::format("started with -m {}", mode.name);
    const Readiness ready = ctx.server().start(5s, args);
    if (!ready.accepting) {
        fail(fmt::format("{}: the server did not start: {}", label, ready.problem));
    }
    const auto workers = pool_of(ctx, n, label);
    std::vector<std::unique_ptr<Strace>> traces;
    for (const pid_t w : workers) {
        traces.push_back(std::make_unique<Strace>(w, "accept,accept4"));
        if (!traces.back()->attached()) {
            ctx.log("useless wakeups not checked: {}", traces.back()->why_not());
            return;
        }
    }
    const Deadline overall(30s);
    for (int i = 0; i < herd_connections; ++i) {
        fetch(ctx.reply(), ctx.port(), 1, overall.within(3s),
              fmt::format("{}, connection {} of {}", label, i + 1, herd_connections));
        // The workers that woke for nothing go back to waiting first.
        std::this_thread::sleep_for(scaled(20ms));
    }
    std::uint64_t seen = 0;
    for (auto& t : traces) seen += failed_accepts(t->finish());
    traces.clear();
    stop_for_report(ctx, label);
    const Report report = read_report(ctx.server().stdout_text());
    const std::uint64_t said = report.wakeups;
    const std::string& lines = report.lines;
    ctx.log("distribution, {}: strace saw {} accepts find no connection; the report says {} ({})",
            label, seen, said, lines);
    // Room for a wakeup counted a little apart (one before strace attached,
    // a select() that returned for the stop): half to twice, plus one a worker.
    if (said * 2 >= seen && said <= 2 * seen + static_cast<std::uint64_t>(n)) return;
    fail(fmt::format("{}, with strace watching the {} workers while {} connections came one "
                     "after another, {} of their accept calls found no connection (EAGAIN: "
                     "the thundering herd); the distribution lines count {} useless wakeups "
                     "({})",
                     label, n, herd_connections, seen, said,
                     lines.empty() ? "no line in the format" : lines),
         "count in the slot's useless-wakeups each time a worker woke up and its accept found "
         "no connection (EAGAIN on the non-blocking listener), in the shared memory, as the "
         "connections are counted: that count is the thundering herd the lab measures");
}

// distribution: the per-worker lines printed at shutdown add up.
void check_distribution(Context& ctx) {
    const int n = pool_size(ctx);
    // A fresh server, so the report counts only what this check asks.
    const Readiness ready = ctx.server().start(5s, ctx.server().args());
    if (!ready.accepting) fail("restarting the server for this check: " + ready.problem);
    const auto workers = pool_of(ctx, n, "after a fresh start");
    std::vector<pid_t> worker_pids(workers.begin(), workers.end());
    // Own pid of the worker killed halfway -> own pid of its replacement.
    std::map<pid_t, pid_t> successor;
    const int total = 20 * n;
    const Deadline overall(60s);
    std::map<pid_t, int> seen_serving;  // own pid (getpid()) of a worker -> connections it held
    int unseen = 0;                     // connections whose worker the grader did not see
    // Each connection, once its reply came, is still open: its worker
    // holds it (waiting for its next request).
    const auto attribute = [&](const Connection& c) {
        const auto inode = procfs::connection_inode(ctx.port(), c.local_port());
        const auto holders =
            inode ? procfs::socket_holders(worker_pids, *inode) : std::vector<procfs::Holder>{};
        const auto own =
            holders.size() == 1 ? procfs::own_pid(holders.front().pid) : std::optional<pid_t>{};
        if (own) {
            ++seen_serving[*own];
        } else {
            ++unseen;
        }
    };
    for (int round = 0; round < 4; ++round) {
        if (round == 2) {
            // Idle (every connection of the rounds before is closed): one
            // worker killed, one forked in its slot, whose counts go on.
            const pid_t victim = worker_pids.front();
            const auto victim_own = procfs::own_pid(victim);
            const auto now =
                kill_and_expect_replacement(ctx, n, victim, "idle, halfway through the bursts");
            std::vector<pid_t> fresh;
            for (const pid_t p : now) {
                if (std::find(worker_pids.begin(), worker_pids.end(), p) == worker_pids.end()) {
                    fresh.push_back(p);
                }
            }
            worker_pids.assign(now.begin(), now.end());
            const auto fresh_own =
                fresh.size() == 1 ? procfs::own_pid(fresh.front()) : std::optional<pid_t>{};
            if (victim_own && fresh_own) successor[*victim_own] = *fresh_own;
        }
        std::vector<Connection> conns;
        for (int i = 0; i < total / 4; ++i) {
            conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
            conns.back().send_all(request_line(4000), overall.within(3s), "request");
        }
        try {
            expect_replies_together(
                ctx.reply(), conns, std::vector<std::uint64_t>(conns.size(), 4000),
                overall.within(10s), "a burst of clients", [] {}, attribute);
        } catch (const CheckFailed& e) {
            // Before any report: not the counters' fault.
            fail(e.what(),
                 fmt::format("every one of {} clients asking at once must get its whole reply "
                             "(the pool serves them -n at a time); the report is read only "
                             "after that",
                             total / 4));
        }
    }
    // More than 255 for some worker (pigeonhole): a count that wraps at 256
    // shows in the sum. Each attributed too, its socket found by the
    // kernel's exact lookup (tcp_diag.hpp): reading /proc/net/tcp for each
    // took 1025 of them past the deadline on a busy machine.
    const int short_ones = 256 * n + 1;
    for (int i = 0; i < short_ones; ++i) {
        Connection c = Connection::open(ctx.port(), overall.within(3s));
        const std::string what = fmt::format("short connection {} of {}", i + 1, short_ones);
        c.send_all(request_line(1), overall.within(3s), what);
        expect_reply(ctx.reply(), c, 1, overall.within(3s), what);
        attribute(c);
    }
    stop_for_report(ctx, "");
    const Report report = read_report(ctx.server().stdout_text());
    const std::set<int>& slots = report.slots;
    const std::map<pid_t, std::uint64_t>& reported = report.connections;
    const std::uint64_t sum = report.sum;
    const std::string& lines = report.lines;
    const std::string hint =
        "at shutdown, after reaping the workers, print one line per worker slot: `worker I pid "
        "PID connections C useless-wakeups U` (docs/contract.md); count in memory shared by all "
        "the processes (mmap MAP_SHARED | MAP_ANONYMOUS before the first fork), with atomics";
    if (slots.size() != static_cast<std::size_t>(n) || *slots.begin() != 0 ||
        *slots.rbegin() != n - 1) {
        fail(fmt::format("after SIGTERM the server printed {} distribution lines for slots "
                         "{{{}}}; expected {} lines, slots 0 to {}",
                         slots.size(), fmt::join(slots, ", "), n, n - 1),
             hint);
    }
    // The grader's start made one more: the connection that saw it ready.
    const auto made = static_cast<std::uint64_t>(total + short_ones) + 1;
    if (sum != made) {
        const std::string killed = successor.empty()
                                       ? std::string()
                                       : fmt::format(
                                             "; worker pid {} was killed and replaced by pid {} "
                                             "halfway through the bursts",
                                             successor.begin()->first, successor.begin()->second);
        fail(fmt::format("the grader made {} connections (its readiness probe at start, {} "
                         "requests in bursts, then {} short connections one after another, so "
                         "that some worker served more than 255{}); the distribution lines add "
                         "up to {} ({})",
                         made, total, short_ones, killed, sum,
                         lines.empty() ? "no line in the format" : lines),
             sum < made && (made - sum) % 256 == 0
                 ? "each worker's count must hold any number of connections: a count carried "
                   "in 8 bits (an exit status, a byte) wraps at 256; keep the counters in the "
                   "shared mapping, as wide as the report's numbers"
             : sum < made && !successor.empty()
                 ? "a worker that replaces a dead one takes over its slot, and the slot's "
                   "counts go on (docs/contract.md): never set them back to zero when you fork "
                   "the replacement"
                 : hint);
    }
    // Each worker's count: what the grader saw it serve, plus at most the
    // connections it could not attribute and the readiness probe.
    const std::uint64_t slack = static_cast<std::uint64_t>(unseen) + 1;
    // The killed worker's connections count in its replacement's line: the
    // line of a slot has the pid of its last worker.
    for (const auto& [dead, heir] : successor) {
        seen_serving[heir] += seen_serving[dead];
        seen_serving.erase(dead);
    }
    std::set<pid_t> pids;
    for (const auto& [pid, count] : seen_serving) pids.insert(pid);
    for (const auto& [pid, count] : reported) pids.insert(pid);
    for (const pid_t pid : pids) {
        const auto saw = static_cast<std::uint64_t>(seen_serving[pid]);
        const auto it = reported.find(pid);
        const std::uint64_t says = it == reported.end() ? 0 : it->second;
        if (says >= saw && says <= saw + slack) continue;
        std::string served;
        for (const auto& [p, count] : seen_serving) {
            served += fmt::format("{}pid {}: {}", served.empty() ? "" : ", ", p, count);
        }
        std::string heir_of;
        for (const auto& [dead, heir] : successor) {
            if (heir == pid) {
                heir_of = fmt::format(" (with those of pid {}, the worker it replaced in its slot)",
                                      dead);
            }
        }
        fail(fmt::format("the grader saw worker pid {} serve {}{} of its {} connections (the "
                         "process holding each connection's socket once its reply came), and "
                         "the distribution lines say {}: {} (the grader saw: {}{})",
                         pid, saw, heir_of, total + short_ones, says, lines, served,
                         unseen > 0 ? fmt::format("; {} not attributed", unseen) : ""),
             "count each connection in the slot of the worker that accepted and served it, in "
             "memory shared by all the processes; print each slot's own count and its worker's "
             "pid (the last worker of that slot)");
    }
    ctx.log("distribution: {} (the grader saw: {} attributed, {} not)", lines,
            total + short_ones - unseen, unseen);
    // Every mode whose idle workers all wake for each connection: a report
    // that counts the herd in one only is made up in the others.
    for (const LabMode& mode : ctx.lab().modes) {
        if (modes::wakes_every_worker(ctx.lab().model, mode.name)) {
            require_herd_counted(ctx, n, mode);
        }
    }
}

}  // namespace

CSD_CHECK(distribution) {
    return {"distribution",
            10,
            check_distribution,
            "after SIGTERM, one distribution line per worker that add up to the connections made "
            "(in bursts, a worker killed and replaced halfway, then 256 N + 1 short ones), "
            "each slot's line its own connections; prefork with -m select and with -m epoll "
            "counts the accepts that found no connection as useless wakeups",
            "count each connection in memory shared by all the processes (mmap MAP_SHARED | "
            "MAP_ANONYMOUS before the first fork, std::atomic); after reaping the workers print "
            "one line per slot in the format of docs/contract.md",
            {},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
