// stalled (labs prefork and fdpass: a pool of -n worker processes, counted
// in the server's tree in /proc; lab prethread: a pool of -n threads,
// counted in /proc/PID/task): with -n workers, n-1 clients that sent half a
// request do not stop n more, one after another, from being served; then,
// with all n busy, of 100 more clients the server accepts at most 64 (the
// rest wait in the kernel's accept queue), answers none while all n are
// busy, and serves them all later.
#include <sys/ioctl.h>

#include <fmt/format.h>

#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "idle_watch.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace worker_pool;

namespace {

/// Clients that connect while every worker is busy, and how many of them
/// the server may accept meanwhile: a queue of at most 64
/// (docs/contract.md), and the one connection an acceptor holds while it
/// waits for room in it.
constexpr int waiting_clients = 100;
constexpr int max_accepted_while_busy = 64 + 1;

constexpr const char* stalled_thread_hint =
    "each pool thread serves one client at a time, so -n threads serve -n clients at once: hand "
    "each connection to whichever thread is free (one queue shared by the pool: the first idle "
    "thread pops it), not to each thread in turn, and hold no lock while you serve";

// stalled: with -n workers, n-1 stalled clients do not stop the n-th.
// With every worker busy and the clients waiting, no thread of the server
// may wait for time to pass: an acceptor whose queue is full waits for
// room (a condition variable a pool thread signals), a parent with no
// free worker waits for one to say it is done; one that sleeps a little
// and looks again is a polling loop. Five looks at /proc/TID/syscall,
// 40 ms apart (idle_watch::sleeping_thread(); not under ThreadSanitizer,
// whose own thread sleeps).
void require_waiting_for_room(Context& ctx, int n, std::string_view unit) {
    if (procfs::runs_tsan(ctx.pid())) return;
    for (int look = 0; look < 5; ++look) {
        if (look > 0) std::this_thread::sleep_for(scaled(40ms));
        const std::string sleeper = idle_watch::sleeping_thread(ctx.pid());
        if (sleeper.empty()) continue;
        fail(fmt::format("while all {} {} were busy with stalled clients and more clients "
                         "waited, {}: it waits for time to pass, not for a {} to be free",
                         n, unit, sleeper, unit == "threads" ? "thread" : "worker"),
             unit == "threads"
                 ? "when the queue is full, the acceptor waits for room on a condition variable "
                   "that a pool thread signals when it takes a connection; sleeping and looking "
                   "again is a polling loop"
                 : "with no worker free, wait for one to be free (its message on its channel, "
                   "the accept lock, a child's exit) with no timeout; sleeping and looking "
                   "again is a polling loop");
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
    // Every worker busy now: the clients that come meanwhile wait in the
    // kernel's accept queue (a connection there has no socket inode yet),
    // or in a queue of the server that is bounded; never all in the server.
    stalled.push_back(Connection::open(ctx.port(), overall.within(3s)));
    stalled.back().send_all("40", overall.within(3s), "a stalled client");
    std::this_thread::sleep_for(scaled(200ms));
    std::vector<Connection> waiting;
    std::set<std::uint16_t> waiting_ports;
    for (int i = 0; i < waiting_clients; ++i) {
        waiting.push_back(Connection::open(ctx.port(), overall.within(3s)));
        waiting.back().send_all(request_line(4000), overall.within(3s), "a waiting client");
        waiting_ports.insert(waiting.back().local_port());
    }
    std::this_thread::sleep_for(scaled(500ms));
    int accepted = 0;
    for (const auto& s : procfs::tcp_sockets()) {
        if (s.local_port == ctx.port() && waiting_ports.contains(s.remote_port) && s.inode != 0) {
            ++accepted;
        }
    }
    ctx.log("{} clients came while all {} {} were busy: the server accepted {} of them",
            waiting_clients, n, unit, accepted);
    require_waiting_for_room(ctx, n, unit);
    // And served none of them: each worker serves one client at a time, so
    // a pool of n busy with n clients has no one to serve another (a worker
    // that multiplexes clients, or a thread it starts per client, bounds
    // nothing).
    int answered = 0;
    for (const auto& client : waiting) {
        int queued = 0;
        if (::ioctl(client.fd(), FIONREAD, &queued) == 0 && queued > 0) ++answered;
    }
    if (answered > 0) {
        ctx.require_running("while every worker was busy");
        fail(fmt::format("{} clients came while all {} {} were busy serving stalled clients: {} "
                         "of them got reply bytes at once, so the pool of {} serves more than {} "
                         "clients at a time",
                         waiting_clients, n, unit, answered, n, n),
             threads ? "a pool thread serves its client to the end before it takes another one: "
                       "the pool's size is the number of clients served at once"
                     : "a worker serves its client to the end before it takes (or asks for) "
                       "another one: -n workers serve -n clients at once, no more");
    }
    if (accepted > max_accepted_while_busy) {
        ctx.require_running("while every worker was busy");
        fail(fmt::format("{} clients came while all {} {} were busy serving stalled clients: the "
                         "server accepted {} of them (at most {} may wait inside the server: "
                         "a queue of 64, and one in the acceptor's hands)",
                         waiting_clients, n, unit, accepted, max_accepted_while_busy),
             threads ? "bound the queue of accepted connections (the handout: at most 64): when "
                       "it is full the acceptor waits for room, and new clients wait in the "
                       "kernel's accept queue, costing the server nothing"
                     : "while no worker is free, stop accepting: the clients wait in the kernel's "
                       "accept queue, costing the server nothing, until a worker is free");
    }
    for (std::size_t i = 0; i < stalled.size(); ++i) {
        const std::string what =
            fmt::format("stalled client {} after it finished its request", i + 1);
        stalled[i].send_all("00\n", overall.within(3s), what);
        expect_reply(ctx.reply(), stalled[i], 4000, overall.within(3s), what);
    }
    stalled.clear();  // closed: their workers go back to the waiting clients
    const Deadline rest(20s);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
        Connection client = std::move(waiting[i]);  // closed once served: the worker moves on
        expect_reply(ctx.reply(), client, 4000, rest,
                     fmt::format("waiting client {} of {}, once the stalled ones were done", i + 1,
                                 waiting.size()));
    }
}

}  // namespace

CSD_CHECK(stalled) {
    return {"stalled",
            10,
            check_stalled,
            "with -n N workers, N-1 clients that sent half a request do not stop N more, one after "
            "another, from being served; with all N busy, the server accepts at most 64 of 100 "
            "more clients (the rest wait in the kernel), answers none of them while the N are "
            "busy (and no thread of it sleeps meanwhile), and serves them all later",
            "each worker serves one client at a time, so N workers serve N clients at once; hold "
            "nothing the other workers wait for (the accept lock) while you serve",
            {"cpu"}};
}

}  // namespace csd::grade
