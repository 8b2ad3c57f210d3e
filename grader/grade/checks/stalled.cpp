// stalled (labs prefork and fdpass: a pool of -n worker processes, counted
// in the server's tree in /proc; lab prethread: a pool of -n threads,
// counted in /proc/PID/task): with -n workers, n-1 clients that sent half a
// request do not stop n more, one after another, from being served.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace worker_pool;

namespace {

constexpr const char* stalled_thread_hint =
    "each pool thread serves one client at a time, so -n threads serve -n clients at once: hand "
    "each connection to whichever thread is free (one queue shared by the pool: the first idle "
    "thread pops it), not to each thread in turn, and hold no lock while you serve";

// stalled: with -n workers, n-1 stalled clients do not stop the n-th.
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

}  // namespace

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

}  // namespace csd::grade
