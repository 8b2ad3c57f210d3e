// architecture, for the pool, thread and descriptor-passing labs: processes,
// threads and socket owners of the server seen in /proc before, during and
// after load.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "checks.hpp"
#include "expect.hpp"
#include "io_threads.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "reply_writers.hpp"
#include "request_wakeups.hpp"
#include "sandbox.hpp"
#include "strace_text.hpp"
#include "trace.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Fails unless the server has exactly @p n processes below it (given 2 s to fork them).
std::set<pid_t> require_workers(Context& ctx, int n, std::string_view when,
                                const std::string& hint) {
    std::set<pid_t> pids;
    const bool ok = poll_until(2s, [&] {
        pids = worker_pool::workers_below(ctx.pid());
        return pids.size() == static_cast<std::size_t>(n);
    });
    if (!ok) {
        ctx.require_running(when);
        fail(fmt::format("{}: the server (pid {}) started with -n {} has {} processes below it "
                         "({}); expected a pool of {} worker processes",
                         when, ctx.pid(), n, pids.size(), worker_pool::pids_text(pids), n),
             hint);
    }
    return pids;
}

// A connection that got its 4000-byte reply and is held open.
Connection open_served(Context& ctx, const std::string& label, Deadline overall) {
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all(request_line(4000), overall.within(3s), label);
    expect_reply(ctx.reply(), conn, 4000, overall.within(3s), label);
    return conn;
}

// The processes of the server's tree holding the server side of @p conn.
std::vector<procfs::Holder> owners_of(Context& ctx, const Connection& conn,
                                      const std::string& label) {
    const auto inode =
        poll_until(1s, [&] { return procfs::connection_inode(ctx.port(), conn.local_port()); });
    if (!inode) fail(label + ": /proc/net/tcp shows no accepted socket for it");
    return procfs::socket_holders(procfs::process_tree(ctx.pid()), *inode);
}

// @p n connections, each answered and served by one of @p workers (the top
// process gets 500 ms to let go of a socket it handed over); all held open
// when @p hold_open, else each closed once its owner is known.
std::vector<Connection> hold_in_workers(Context& ctx, int n, const std::set<pid_t>& workers,
                                        const std::string& hint, bool hold_open = true) {
    std::vector<Connection> held;
    const Deadline overall(30s);
    for (int i = 1; i <= n; ++i) {
        const std::string label = fmt::format("connection {} of {} ({})", i, n,
                                              hold_open ? "all held open" : "one after another");
        Connection conn = open_served(ctx, label, overall);
        std::vector<procfs::Holder> owners;
        const bool top_let_go = poll_until(500ms, [&] {
            owners = owners_of(ctx, conn, label);
            return std::none_of(owners.begin(), owners.end(),
                                [&](const procfs::Holder& h) { return h.pid == ctx.pid(); });
        });
        if (!top_let_go) {
            const auto fd = std::find_if(owners.begin(), owners.end(), [&](const auto& h) {
                                return h.pid == ctx.pid();
                            })->fd;
            fail(fmt::format("{}: the server's main process (pid {}) holds its connected socket "
                             "(fd {}) 500 ms after the reply; a worker should serve it alone",
                             label, ctx.pid(), fd),
                 hint);
        }
        if (owners.empty()) fail(label + ": no process of the server holds its socket", hint);
        for (const auto& o : owners) {
            if (!workers.contains(o.pid)) {
                fail(fmt::format("{}: served by process {}, which is not one of the {} workers "
                                 "that existed before the connection ({}): a process was made "
                                 "for it",
                                 label, o.pid, workers.size(), worker_pool::pids_text(workers)),
                     hint);
            }
        }
        if (hold_open) held.push_back(std::move(conn));
    }
    return held;
}

// Requests of 4000 bytes from 2 * @p n clients at once, calling @p sample meanwhile.
void burst(Context& ctx, int n, const std::string& during, const std::function<void()>& sample) {
    std::vector<Connection> conns;
    const Deadline overall(30s);
    for (int i = 0; i < 2 * n; ++i) {
        conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
        conns.back().send_all(request_line(4000), overall.within(3s), "request");
    }
    expect_replies_together(ctx.reply(), conns, std::vector<std::uint64_t>(conns.size(), 4000),
                            overall, during, sample);
    for (int i = 0; i < 20; ++i) {
        fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s),
              fmt::format("request {} of 20 in a row", i + 1));
        sample();
    }
}

// Fails unless the processes below the server are exactly @p workers.
void require_same_workers(Context& ctx, const std::set<pid_t>& workers, std::string_view when,
                          const std::string& hint) {
    const auto now = worker_pool::workers_below(ctx.pid());
    if (now == workers) {
        // Each worker serves its client itself, on its one thread: a worker
        // that starts a thread per client makes -n bound nothing.
        for (const pid_t pid : workers) {
            const int threads = procfs::thread_count(pid) - runtime_threads(pid);
            if (threads <= 1) continue;
            fail(fmt::format("{}: worker {} has {} threads; a worker of the pool is one process "
                             "serving one client at a time on its one thread, not a thread "
                             "per client",
                             when, pid, threads),
                 hint);
        }
        return;
    }
    ctx.require_running(when);
    fail(fmt::format("{}: the processes below the server (pid {}) were {} and are now {}; a pool "
                     "keeps the same workers: no fork per connection, no worker replaced",
                     when, ctx.pid(), worker_pool::pids_text(workers), worker_pool::pids_text(now)),
         hint);
}

// Fails when a worker of @p workers holds the listening socket of the server.
void require_listener_in_parent_only(Context& ctx, const std::set<pid_t>& workers,
                                     std::string_view when, const std::string& hint) {
    const auto inode = procfs::listening_inode(ctx.port());
    if (!inode)
        fail(fmt::format("{}: no socket listens on port {} (/proc/net/tcp)", when, ctx.port()));
    const std::vector<pid_t> pids(workers.begin(), workers.end());
    const auto holders = procfs::socket_holders(pids, *inode);
    if (!holders.empty()) {
        fail(fmt::format("{}: worker {} holds the listening socket (fd {} -> socket:[{}]); only "
                         "the parent accepts, the workers get each connection from it",
                         when, holders.front().pid, holders.front().fd, *inode),
             hint);
    }
}

// How the workers of a preforked pool get their connections.
enum class Listening {
    shared,          // every worker holds the one listening socket (inherited across fork)
    one_per_worker,  // SO_REUSEPORT: each worker holds a listening socket of its own
};

// Empty when the workers of @p workers accept on the server's port
// themselves, in one of the two ways of Listening (set in @p how); else
// what is wrong. With one socket, every worker must hold it; with several
// (SO_REUSEPORT), there must be one per worker, each held by that worker
// alone, none by the parent or anyone else.
std::string listening_problem(Context& ctx, const std::set<pid_t>& workers, Listening& how) {
    const auto inodes = procfs::listening_inodes(ctx.port());
    if (inodes.empty())
        return fmt::format("no socket listens on port {} (/proc/net/tcp)", ctx.port());
    if (inodes.size() == 1) {
        how = Listening::shared;
        for (const pid_t pid : workers) {
            if (!procfs::socket_holders({pid}, inodes.front()).empty()) continue;
            return fmt::format(
                "worker {} does not hold the listening socket (socket:[{}]); in a "
                "preforked pool every worker accepts on it",
                pid, inodes.front());
        }
        return {};
    }
    how = Listening::one_per_worker;
    if (inodes.size() != workers.size()) {
        return fmt::format(
            "{} sockets listen on port {} (SO_REUSEPORT); a pool of {} workers "
            "has one listening socket shared by all, or one per worker",
            inodes.size(), ctx.port(), workers.size());
    }
    const auto tree = procfs::process_tree(ctx.pid());
    std::set<pid_t> owners;
    for (const std::uint64_t inode : inodes) {
        std::set<pid_t> holders;
        for (const auto& h : procfs::socket_holders(tree, inode)) holders.insert(h.pid);
        if (holders.size() != 1 || !workers.contains(*holders.begin())) {
            return fmt::format(
                "the listening socket socket:[{}] on port {} is held by {} of the "
                "server's processes ({}); with a listening socket per worker "
                "(SO_REUSEPORT) each is held by its worker alone, and the "
                "parent holds none",
                inode, ctx.port(), holders.size(), worker_pool::pids_text(holders));
        }
        owners.insert(*holders.begin());
    }
    if (owners != workers) {
        return fmt::format(
            "the {} listening sockets on port {} are held by {}; with a listening "
            "socket per worker (SO_REUSEPORT) each of the workers {} holds one",
            inodes.size(), ctx.port(), worker_pool::pids_text(owners),
            worker_pool::pids_text(workers));
    }
    return {};
}

// Fails unless the workers accept on the port themselves (listening_problem(),
// given 1 s: a worker may open its own listening socket after its fork).
Listening require_listeners_in_workers(Context& ctx, const std::set<pid_t>& workers,
                                       std::string_view when, const std::string& hint) {
    Listening how = Listening::shared;
    std::string problem;
    if (poll_until(1s, [&] {
            problem = listening_problem(ctx, workers, how);
            return problem.empty();
        })) {
        return how;
    }
    ctx.require_running(when);
    fail(fmt::format("{}: {}", when, problem), hint);
}

constexpr const char* pool_hint =
    "fork the -n workers once, before accepting; each worker serves connection after "
    "connection and never exits while the server runs: no fork() per connection";

constexpr const char* fdpass_hint =
    "the parent alone accepts; it sends each connected socket to a worker over a UNIX-domain "
    "socket (SCM_RIGHTS) and closes its own copy at once; the workers close the listening "
    "socket right after fork()";

constexpr const char* thread_hint =
    "create one thread per accepted connection (std::thread, detached or joined once it is "
    "done); the thread serves that client and ends when the client is gone";

constexpr const char* prethread_hint =
    "create the -n threads once, before accepting; each serves connection after connection; "
    "create no thread per connection and let none end while the server runs";

// Fails when the server has any process below it.
// (Given 1 s: a child a previous check left may still be on its way out.)
void require_no_children(Context& ctx, std::string_view when, const std::string& hint) {
    std::set<pid_t> below;
    if (poll_until(1s, [&] {
            below = worker_pool::workers_below(ctx.pid());
            return below.empty();
        })) {
        return;
    }
    fail(fmt::format("{}: the server (pid {}) has {} child process{} ({}); this lab uses threads, "
                     "not processes",
                     when, ctx.pid(), below.size(), below.size() == 1 ? "" : "es",
                     worker_pool::pids_text(below)),
         hint);
}

// The hint of a decoy: @p hint, the lab's, and what a decoy is among its
// @p unit ("threads", "pool threads").
std::string decoy_hint(const std::string& hint, std::string_view unit) {
    return fmt::format(
        "{}: the thread that serves a client does its reads and writes itself "
        "(through an io_uring, a ring of its own); {} that only wait and pass "
        "the work on to one thread are decoys",
        hint, unit);
}

// One more request on each of @p held under strace -f: the reads of each
// request and the writes of its reply (the calls that moved bytes on its
// socket) are one thread's, and no thread does those of two held
// connections. A thread that only waits on a connection's socket and
// tells another thread, which reads and writes every connection, is a
// decoy: it wakes up, but it does not serve.
void require_own_io(Context& ctx, const std::vector<Connection>& held, const IoThreads& io,
                    std::string_view unit, const std::string& hint) {
    const auto& served = io.served;
    std::string who;
    for (const auto& [tid, conns] : served) {
        who += fmt::format("{}thread {}: {} connection{}", who.empty() ? "" : ", ", tid,
                           conns.size(), conns.size() == 1 ? "" : "s");
    }
    ctx.log("{} held connections, one more request on each: reads and writes by {}", held.size(),
            who.empty() ? std::string("none seen") : who);
    for (const auto& [tid, conns] : served) {
        if (conns.size() < 2) continue;
        fail(fmt::format("{} connections held open, one more request on each under strace -f: "
                         "thread {} read or wrote {} of them ({}); each connection is served by "
                         "its own thread, which reads its requests and writes its replies itself",
                         held.size(), tid, conns.size(), who),
             decoy_hint(hint, unit));
    }
}

// Which threads do the work: a request for 4000 bytes on each connection of
// @p held, one after another, and for each the threads of the server that
// woke up for it (request_wakeups, untraced). A thread that woke for every
// request, beyond what a timer of its own explains, serves them all; the
// others are decoys that only wait. Fails when fewer than @p want threads
// served requests of their own, or one served them all; then checks the
// same under strace (require_own_io) and, untraced, who writes each
// reply while it waits for room (require_reply_writers).
void require_work_spread(Context& ctx, std::vector<Connection>& held, int want,
                         std::string_view unit, const std::string& hint) {
    std::vector<Connection*> conns;
    for (auto& c : held) conns.push_back(&c);
    const auto wakes = request_wakeups(ctx, conns, 4000, "request 4000 again on held connection");
    if (wakes.woke.empty()) return;
    std::set<pid_t> some;  // woke for some request
    for (const auto& w : wakes.woke) some.insert(w.begin(), w.end());
    int own = 0;
    for (const pid_t t : some) own += wakes.every.contains(t) ? 0 : 1;
    ctx.log("work spread: {} threads served requests of their own, {} woke for all", own,
            wakes.every.size());
    const std::string all = threads_text(ctx.pid(), wakes.every);
    if (own < want) {
        fail(fmt::format("{} connections held open, one request on each in turn: {} {} of the "
                         "server (pid {}) served requests of their own, {} expected; {}",
                         held.size(), own, unit, ctx.pid(), want,
                         wakes.every.empty() ? std::string("no thread woke up for them")
                                             : "thread " + all +
                                                   " woke up for every one of them: it serves "
                                                   "them all, the other threads only exist"),
             hint);
    }
    // One more request on each, under strace.
    const auto io = io_threads(ctx, held);
    if (!io) return;
    // A thread that woke for every request without a tracer must do so
    // with one too: a helper of every connection (a logger) does, and
    // require_own_io() judges who reads and writes. One that sleeps
    // through them while strace watches serves them all when it does not.
    // Nor may it submit to an io_uring while strace watches: reads and
    // writes in a ring are not seen per connection, and a ring of each
    // connection thread's own wakes for that connection only.
    std::set<pid_t> hides;
    std::set<pid_t> rings;
    for (const pid_t t : wakes.every) {
        if (!io->woke.contains(t)) {
            hides.insert(t);
        } else if (io->ring_submitters.contains(t)) {
            rings.insert(t);
        }
    }
    const std::pair<const std::set<pid_t>*, const char*> decoy_signs[] = {
        {&hides,
         "far more often than when the server is idle, and not once while strace watched one "
         "more request on each: it serves them all when no tracer is attached"},
        {&rings,
         "and submitted work to an io_uring while strace watched one more request on each: it "
         "reads and writes for them all through its ring"},
    };
    for (const auto& [tids, sign] : decoy_signs) {
        if (tids->empty()) continue;
        fail(fmt::format("{} connections held open, one request on each in turn: thread {} of "
                         "the server (pid {}) woke up for every one of them, {}, and the {} "
                         "that woke up beside it only wait",
                         held.size(), threads_text(ctx.pid(), *tids), ctx.pid(), sign, unit),
             decoy_hint(hint, unit));
    }
    require_own_io(ctx, held, *io, unit, hint);
    // And untraced again: who writes each reply while it is being sent.
    require_reply_writers(ctx, held, decoy_hint(hint, unit));
}

}  // namespace

// ThreadSanitizer starts a background thread of its own (seen by its
// library in /proc/PID/maps); in such a build the lab library takes the
// routed signals in a thread named csd-signals (labs/lib/src/signals.cpp).
std::vector<int> other_pool_sizes(const Context& ctx) {
    const int n = ctx.lab().workers;
    const int largest = ctx.lab().workers_max > 0 ? ctx.lab().workers_max : large_pool_size;
    return {n == 3 ? 2 : 3, n + 3, 2 * n + 5, largest};
}

void restart_with_pool_size(Context& ctx, int size) {
    std::vector<std::string> args = ctx.server().args();
    const auto n = std::find(args.begin(), args.end(), "-n");
    if (n == args.end() || n + 1 == args.end()) {
        fail(fmt::format("the grader starts lab {} without -n", ctx.lab().id));
    }
    *(n + 1) = std::to_string(size);
    const Readiness ready = ctx.server().start(5s, args);
    if (!ready.accepting) {
        fail(fmt::format("started with -n {}, the server did not start: {}", size, ready.problem),
             "the pool's size is -n: read it from the command line, whatever its value");
    }
}

int runtime_threads(pid_t pid) {
    if (!procfs::runs_tsan(pid)) return 0;
    int threads = 1;
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (procfs::thread_name(pid, tid) == "csd-signals") ++threads;
    }
    return threads;
}

int settled_threads(Context& ctx) {
    int count = procfs::thread_count(ctx.pid());
    int stable = 0;
    const Deadline limit(1s);
    while (stable < 3 && !limit.expired()) {
        std::this_thread::sleep_for(scaled(50ms));
        const int again = procfs::thread_count(ctx.pid());
        stable = again == count ? stable + 1 : 0;
        count = again;
    }
    return count;
}

std::vector<pid_t> require_thread_pool(Context& ctx, int n, std::string_view when,
                                       const std::string& hint) {
    std::vector<pid_t> tids;
    const int runtime = runtime_threads(ctx.pid());
    const bool ready = poll_until(2s, [&] {
        tids = procfs::thread_ids(ctx.pid());
        return tids.size() == static_cast<std::size_t>(n + 1 + runtime);
    });
    if (!ready) {
        ctx.require_running(when);
        fail(fmt::format("{}, the server (pid {}) started with -n {} has {} thread{}; "
                         "expected {} ({} workers and the main thread{})",
                         when, ctx.pid(), n, tids.size(), tids.size() == 1 ? "" : "s",
                         n + 1 + runtime, n,
                         runtime > 0 ? ", and the sanitizer's and signal threads" : ""),
             hint);
    }
    return tids;
}

void check_process_pool(Context& ctx) {
    const int n = worker_pool::pool_size(ctx);
    const auto workers = require_workers(ctx, n, "idle, before any client", pool_hint);
    const Listening how =
        require_listeners_in_workers(ctx, workers, "idle, before any client", pool_hint);
    // With a listening socket per worker the kernel picks the worker by a
    // hash of the addresses, busy or not: a connection held open by one
    // worker could delay the next, so each is closed once its owner is known.
    const bool hold_open = how == Listening::shared;
    {
        const auto held = hold_in_workers(ctx, n, workers, pool_hint, hold_open);
        require_same_workers(ctx, workers,
                             hold_open ? fmt::format("with {} connections held open", n)
                                       : fmt::format("after {} connections one after another", n),
                             pool_hint);
    }
    const std::string during = fmt::format(
        "while {} clients and then 20 more asked for 4000 "
        "bytes",
        2 * n);
    burst(ctx, n, during, [&] { require_same_workers(ctx, workers, during, pool_hint); });
    std::this_thread::sleep_for(scaled(100ms));
    require_same_workers(ctx, workers, "after those clients left", pool_hint);
    ctx.log("pool of {} workers: {}, {}", n, worker_pool::pids_text(workers),
            hold_open ? "sharing one listening socket" : "each with its own listening socket");
    for (const int m : other_pool_sizes(ctx)) {
        restart_with_pool_size(ctx, m);
        (void)require_workers(ctx, m, fmt::format("started with -n {}, idle", m), pool_hint);
    }
}

// The parent passes each connection in an SCM_RIGHTS message (sendmsg's
// ancillary data), the lesson of fdpass: with strace on the parent while
// @p n clients come one after another, at least @p n of its sendmsg calls
// carry one. A parent that sends a descriptor's number for a worker to
// copy with pidfd_getfd() serves the same bytes without it. Where strace
// cannot attach, left out.
void require_scm_rights(Context& ctx, int n, const std::string& hint) {
    Strace trace(ctx.pid(), "sendmsg,sendmmsg");
    if (!trace.attached()) {
        ctx.log("SCM_RIGHTS not checked: {}", trace.why_not());
        return;
    }
    const Deadline overall(30s);
    try {
        for (int i = 1; i <= n; ++i) {
            fetch(
                ctx.reply(), ctx.port(), 4000, overall.within(3s),
                fmt::format("client {} of {}, one after another, with strace on the parent", i, n));
        }
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    int passed = 0;
    for (const StraceCall& c : parse_strace(text)) {
        if (c.args.find("SCM_RIGHTS") != std::string::npos) ++passed;
    }
    ctx.log("{} of the parent's sendmsg calls carried SCM_RIGHTS for {} clients", passed, n);
    if (passed >= n) return;
    fail(fmt::format("with strace on the parent (pid {}) while {} clients came one after "
                     "another, {} of its sendmsg calls carried a descriptor (SCM_RIGHTS)",
                     ctx.pid(), n, passed),
         hint);
}

void check_descriptor_passing(Context& ctx) {
    const int n = worker_pool::pool_size(ctx);
    const auto workers = require_workers(ctx, n, "idle, before any client", fdpass_hint);
    require_listener_in_parent_only(ctx, workers, "idle, before any client", fdpass_hint);
    {
        const auto held = hold_in_workers(ctx, n, workers, fdpass_hint);
        require_same_workers(ctx, workers, fmt::format("with {} connections held open", n),
                             fdpass_hint);
    }
    require_scm_rights(ctx, n, fdpass_hint);
    const std::string during =
        fmt::format("while {} clients and then 20 more asked for 4000 bytes", 2 * n);
    burst(ctx, n, during, [&] { require_same_workers(ctx, workers, during, fdpass_hint); });
    std::this_thread::sleep_for(scaled(100ms));
    require_same_workers(ctx, workers, "after those clients left", fdpass_hint);
    require_listener_in_parent_only(ctx, workers, "after those clients left", fdpass_hint);
    for (const int m : other_pool_sizes(ctx)) {
        restart_with_pool_size(ctx, m);
        (void)require_workers(ctx, m, fmt::format("started with -n {}, idle", m), fdpass_hint);
    }
}

// Short connections one after another in require_ended_threads_joined(),
// and the most guard pages they may leave (glibc keeps up to 40 MiB of
// stacks of joined threads for reuse, and a malloc arena or two).
constexpr int short_connections = 64;
constexpr int kept_guards = 16;

// A thread that has ended but was never joined keeps its stack mapped,
// with the guard page below it (a `---p` mapping in /proc/PID/maps), until
// the join: short_connections connections one after another must not
// leave that many behind. (Not in a sanitizer build, whose runtime maps
// memory of its own.)
void require_ended_threads_joined(Context& ctx) {
    if (built_with_sanitizer(ctx.program())) {
        ctx.log("thread stacks not counted: a sanitizer build");
        return;
    }
    const auto before = procfs::inaccessible_mappings(ctx.pid());
    if (!before) return;
    const Deadline overall(30s);
    for (int i = 1; i <= short_connections; ++i) {
        fetch(ctx.reply(), ctx.port(), 100, overall.within(3s),
              fmt::format("short connection {} of {}", i, short_connections));
    }
    int after = *before;
    const bool freed = poll_until(2s, [&] {
        after = procfs::inaccessible_mappings(ctx.pid()).value_or(*before);
        return after <= *before + kept_guards;
    });
    ctx.log("inaccessible mappings: {} idle, {} after {} short connections", *before, after,
            short_connections);
    if (freed) return;
    ctx.require_running("after the short connections");
    fail(fmt::format("2 s after {} short connections one after another, the server (pid {}) had "
                     "{} inaccessible mappings (---p in /proc/{}/maps), {} before them: the guard "
                     "page of each ended thread's stack, still mapped because the thread was "
                     "never joined",
                     short_connections, ctx.pid(), after, ctx.pid(), *before),
         "join each connection thread as soon as it has ended (step 4: the main loop looks at "
         "the done flags each time round), not only at the stop: until the join, a thread's "
         "stack stays allocated");
}

void check_thread_per_connection(Context& ctx) {
    constexpr int held_count = 5;
    require_no_children(ctx, "idle, before any client", thread_hint);
    const int idle = settled_threads(ctx);
    ctx.log("{} threads when idle", idle);
    {
        std::vector<Connection> held;
        const Deadline overall(30s);
        for (int i = 1; i <= held_count; ++i) {
            const std::string label =
                fmt::format("connection {} of {} (all held open)", i, held_count);
            held.push_back(open_served(ctx, label, overall));
            int threads = 0;
            const bool grew = poll_until(1s, [&] {
                threads = procfs::thread_count(ctx.pid());
                return threads >= idle + i;
            });
            if (!grew) {
                ctx.require_running(label);
                fail(fmt::format("with {} connection{} open the server (pid {}) had {} threads, "
                                 "{} when idle: expected one more thread per connection",
                                 i, i == 1 ? "" : "s", ctx.pid(), threads, idle),
                     thread_hint);
            }
        }
        require_no_children(ctx, fmt::format("with {} connections held open", held_count),
                            thread_hint);
        require_work_spread(ctx, held, held_count - 1, "threads", thread_hint);
    }
    int threads = 0;
    const bool back = poll_until(2s, [&] {
        threads = procfs::thread_count(ctx.pid());
        return threads <= idle;
    });
    if (!back) {
        ctx.require_running("after the clients left");
        fail(fmt::format("2 s after its {} clients left, the server (pid {}) still had {} threads "
                         "({} when idle): a thread must end when its client is gone",
                         held_count, ctx.pid(), threads, idle),
             thread_hint);
    }
    require_ended_threads_joined(ctx);
}

void check_thread_pool(Context& ctx) {
    const int n = worker_pool::pool_size(ctx);
    require_no_children(ctx, "idle, before any client", prethread_hint);
    const std::vector<pid_t> tids = require_thread_pool(ctx, n, "idle", prethread_hint);
    auto require_same = [&](std::string_view when) {
        const auto now = procfs::thread_ids(ctx.pid());
        if (now == tids) return;
        ctx.require_running(when);
        fail(fmt::format("{}: the threads of the server (pid {}) were {} and are now {}; a pool "
                         "keeps the same threads",
                         when, ctx.pid(), fmt::join(tids, ", "), fmt::join(now, ", ")),
             prethread_hint);
    };
    {
        std::vector<Connection> held;
        const Deadline overall(30s);
        for (int i = 1; i < n; ++i) {
            held.push_back(open_served(
                ctx, fmt::format("connection {} of {} (all held open)", i, n - 1), overall));
        }
        require_same(fmt::format("with {} connections held open", n - 1));
        require_work_spread(ctx, held, n - 2, "pool threads", prethread_hint);
    }
    const std::string during =
        fmt::format("while {} clients and then 20 more asked for 4000 bytes", 2 * n);
    burst(ctx, n, during, [&] {
        require_no_children(ctx, during, prethread_hint);
        require_same(during);
    });
    std::this_thread::sleep_for(scaled(100ms));
    require_same("after those clients left");
    for (const int m : other_pool_sizes(ctx)) {
        restart_with_pool_size(ctx, m);
        (void)require_thread_pool(ctx, m, fmt::format("started with -n {}, idle", m),
                                  prethread_hint);
    }
}

}  // namespace csd::grade
