// replace, stalled, distribution: the checks of a pool of -n worker
// processes (lab prefork). Each asks the server's tree in /proc which
// workers exist, and its stdout for the distribution report
// (docs/contract.md, "Distribution report"). stalled also grades a pool of
// -n threads (lab prethread), whose threads it counts in /proc/PID/task.
#include <fmt/format.h>
#include <signal.h>

#include <regex>
#include <set>
#include <sstream>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "syscalls.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

std::set<pid_t> workers_below(pid_t top) {
    std::set<pid_t> out;
    for (const auto& p : procfs::descendants(top)) out.insert(p.pid);
    return out;
}

std::string pids_text(const std::set<pid_t>& pids) {
    return pids.empty() ? std::string("none") : fmt::format("{}", fmt::join(pids, ", "));
}

int pool_size(const Context& ctx) {
    const int n = ctx.lab().workers;
    if (n <= 0) fail(fmt::format("the grader has no pool size (-n) for lab {}", ctx.lab().id));
    return n;
}

// The @p n workers of the server (given 2 s); fails when there are not @p n.
std::set<pid_t> pool_of(Context& ctx, int n, std::string_view when) {
    std::set<pid_t> pids;
    const bool ok = poll_until(2s, [&] {
        pids = workers_below(ctx.pid());
        return pids.size() == static_cast<std::size_t>(n);
    });
    if (!ok) {
        ctx.require_running(when);
        fail(fmt::format("{}: the server (pid {}) started with -n {} has {} processes below it "
                         "({}); expected {} workers",
                         when, ctx.pid(), n, pids.size(), pids_text(pids), n),
             "fork the -n workers at start and keep -n of them running");
    }
    return pids;
}

// A worker of the server blocked in accept() (given 1 s to get there), 0
// when none is. With an accept lock it is the worker that holds the lock:
// the others wait for the lock, not in accept().
pid_t worker_in_accept(Context& ctx) {
    return poll_until(1s, [&] {
        for (const pid_t pid : workers_below(ctx.pid())) {
            const auto call = procfs::current_syscall(pid);
            if (!call.number) continue;
            const std::string name = syscall_name(*call.number);
            if (name == "accept" || name == "accept4") return pid;
        }
        return pid_t{0};
    });
}

constexpr const char* stalled_thread_hint =
    "each pool thread serves one client at a time, so -n threads serve -n clients at once: hand "
    "each connection to whichever thread is free (one queue shared by the pool: the first idle "
    "thread pops it), not to each thread in turn, and hold no lock while you serve";

// SIGKILL to worker @p victim (killed @p how); fails unless within 2 s there
// are @p n workers again, the victim not among them.
void kill_and_expect_replacement(Context& ctx, int n, pid_t victim, std::string_view how) {
    ctx.log("SIGKILL to worker {} ({})", victim, how);
    ::kill(victim, SIGKILL);
    std::set<pid_t> now;
    const bool replaced = poll_until(2s, [&] {
        now = workers_below(ctx.pid());
        return now.size() == static_cast<std::size_t>(n) && !now.contains(victim);
    });
    ctx.require_running(fmt::format("after worker {} was killed with SIGKILL", victim));
    if (!replaced) {
        fail(fmt::format("2 s after worker {} was killed with SIGKILL ({}), the processes below "
                         "the server were {}; expected {} workers again, the dead one replaced",
                         victim, how, pids_text(now), n),
             "on SIGCHLD, reap the dead worker (waitpid(-1, &st, WNOHANG) in a loop) and fork "
             "a new one in its place; the parent must never exit because a worker did");
    }
}

}  // namespace

void check_replace(Context& ctx) {
    const int n = pool_size(ctx);
    const auto before = pool_of(ctx, n, "before the kill");
    const Deadline overall(40s);
    // A busy worker: 2n clients ask for 1 MiB each and do not read yet.
    std::vector<Connection> load;
    for (int i = 0; i < 2 * n; ++i) {
        load.push_back(Connection::open(ctx.port(), overall.within(3s)));
        load.back().send_all(request_line(1 << 20), overall.within(3s), "a loading client");
    }
    std::this_thread::sleep_for(scaled(100ms));
    std::vector<pid_t> victims = {*before.begin()};
    kill_and_expect_replacement(ctx, n, victims.back(),
                                fmt::format("with {} clients loading the server", 2 * n));
    load.clear();
    // A worker waiting in accept(): with an accept lock, the one holding it.
    // A robust lock is released by its owner's death; any other stops the
    // pool. (No worker waits in accept() where the parent accepts.)
    if (const pid_t waiting = worker_in_accept(ctx); waiting != 0) {
        victims.push_back(waiting);
        kill_and_expect_replacement(ctx, n, waiting,
                                    "while it waited in accept(), holding the accept lock if "
                                    "the workers take one");
    }
    const std::string killed = fmt::format("{}", fmt::join(victims, " and "));
    for (int i = 1; i <= 4 * n; ++i) {
        try {
            fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s),
                  fmt::format("request {} of {} after worker {} {} replaced", i, 4 * n, killed,
                              victims.size() == 1 ? "was" : "were"));
        } catch (const CheckFailed& e) {
            if (victims.size() < 2) throw;
            fail(e.what(),
                 "a worker killed while it holds the accept lock must not stop the others: make "
                 "the mutex robust (pthread_mutexattr_setrobust) and, when pthread_mutex_lock "
                 "returns EOWNERDEAD, call pthread_mutex_consistent; an fcntl record lock is "
                 "released by the kernel when its owner dies");
        }
    }
}

void check_stalled(Context& ctx) {
    const int n = pool_size(ctx);
    // A pool of threads (prethread) or of processes (prefork, fdpass).
    const bool threads = ctx.lab().model == Model::thread_pool;
    const std::string_view unit = threads ? "threads" : "workers";
    if (threads) {
        (void)require_thread_pool(ctx, n, "idle",
                                  "create the -n pool threads once, at start, and keep them all "
                                  "running: this check needs the whole pool");
    } else {
        (void)pool_of(ctx, n, "idle, before any client");
    }
    const Deadline overall(30s);
    std::vector<Connection> stalled;
    for (int i = 1; i < n; ++i) {
        stalled.push_back(Connection::open(ctx.port(), overall.within(3s)));
        stalled.back().send_all("40", overall.within(3s), "a stalled client");
    }
    std::this_thread::sleep_for(scaled(200ms));
    const std::string label =
        fmt::format("client {} of {}, while the {} others sent half a request each", n, n, n - 1);
    try {
        fetch(ctx.reply(), ctx.port(), 4000, Deadline(2s), label);
    } catch (const CheckFailed& e) {
        fail(fmt::format("{} (a pool of {} {}: one was free)", e.what(), n, unit),
             threads ? stalled_thread_hint
             : ctx.lab().model == Model::descriptor_passing
                 ? "each worker serves one client at a time, so -n workers serve -n clients at "
                   "once: pass each new connection to a worker that is free, never to a busy one"
                 : "each worker serves one client at a time, so -n workers serve -n clients at "
                   "once; do not hold the accept lock (or anything the other workers wait for) "
                   "while you serve a client");
    }
    // The one free thread or worker must serve every new client, one after
    // another, however the pool gets its connections (a queue, an accept
    // lock, a parent that passes them on): handing them to each in turn,
    // busy or not, puts one behind a stalled client.
    const bool passing = ctx.lab().model == Model::descriptor_passing;
    for (int i = 1; i <= n; ++i) {
        const std::string next = fmt::format(
            "client {} of {} more, one after another, while {} clients stay stalled", i, n, n - 1);
        try {
            fetch(ctx.reply(), ctx.port(), 4000, Deadline(2s), next);
        } catch (const CheckFailed& e) {
            fail(fmt::format("{} (a pool of {} {}: one was free, and served the client before)",
                             e.what(), n, unit),
                 threads   ? stalled_thread_hint
                 : passing ? "the parent must pass each new connection to a worker that is free: "
                             "keep track of which workers are busy (each tells the parent when it "
                             "is done, on its channel) and never hand a connection to a busy one, "
                             "not even in turn"
                           : "each worker serves one client at a time and goes back to accept "
                             "when it is done: the free worker must take every new client; do not "
                             "hold the accept lock while you serve");
        }
    }
    for (std::size_t i = 0; i < stalled.size(); ++i) {
        const std::string what =
            fmt::format("stalled client {} after it finished its request", i + 1);
        stalled[i].send_all("00\n", overall.within(3s), what);
        expect_reply(ctx.reply(), stalled[i], 4000, overall.within(3s), what);
    }
}

void check_distribution(Context& ctx) {
    const int n = pool_size(ctx);
    // A fresh server, so the report counts only what this check asks.
    const Readiness ready = ctx.server().start(5s, ctx.server().args());
    if (!ready.accepting) fail("restarting the server for this check: " + ready.problem);
    (void)pool_of(ctx, n, "after a fresh start");
    const int total = 20 * n;
    const Deadline overall(60s);
    for (int round = 0; round < 4; ++round) {
        std::vector<Connection> conns;
        for (int i = 0; i < total / 4; ++i) {
            conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
            conns.back().send_all(request_line(4000), overall.within(3s), "request");
        }
        expect_replies_together(ctx.reply(), conns, std::vector<std::uint64_t>(conns.size(), 4000),
                                overall.within(10s), "a burst of clients", [] {});
    }
    const pid_t top = ctx.pid();
    ::kill(top, SIGTERM);
    const auto status = wait_child(top, Deadline(2s));
    if (!status) fail(fmt::format("the server (pid {}) still ran 2 s after SIGTERM", top));
    reap_children();

    static const std::regex line_format(
        R"(worker (\d+) pid (\d+) connections (\d+) useless-wakeups (\d+))");
    std::istringstream out(ctx.server().stdout_text());
    std::set<int> slots;
    std::uint64_t sum = 0;
    std::string line;
    std::string lines;
    while (std::getline(out, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, line_format)) continue;
        slots.insert(std::stoi(m[1].str()));
        sum += std::stoull(m[3].str());
        lines += (lines.empty() ? "" : "; ") + line;
    }
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
    if (sum != static_cast<std::uint64_t>(total) + 1) {
        fail(fmt::format("the grader made {} connections (its readiness probe at start, then "
                         "{} requests); the distribution lines add up to {} ({})",
                         total + 1, total, sum, lines.empty() ? "no line in the format" : lines),
             hint);
    }
    ctx.log("distribution: {}", lines);
}

CSD_CHECK(stalled) {
    return {"stalled",
            10,
            check_stalled,
            "with -n N workers, N-1 clients that sent half a request do not stop N more, one after "
            "another, from being served",
            "each worker serves one client at a time, so N workers serve N clients at once; hold "
            "nothing the other workers wait for (the accept lock) while you serve",
            {"cpu"}};
}

CSD_CHECK(replace) {
    return {"replace",
            10,
            check_replace,
            "a worker killed with SIGKILL under load is replaced within 2 s, and so is one killed "
            "while it waits in accept (holding the accept lock, if the workers take one); every "
            "request after that is served",
            "on SIGCHLD, reap the dead worker (waitpid(-1, &st, WNOHANG) in a loop) and fork a new "
            "one in its slot; the parent never exits because a worker did",
            {"cpu"}};
}

CSD_CHECK(distribution) {
    return {"distribution",
            10,
            check_distribution,
            "after SIGTERM, one distribution line per worker that add up to the connections made",
            "count each connection in memory shared by all the processes (mmap MAP_SHARED | "
            "MAP_ANONYMOUS before the first fork, std::atomic); after reaping the workers print "
            "one line per slot in the format of docs/contract.md",
            {},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
