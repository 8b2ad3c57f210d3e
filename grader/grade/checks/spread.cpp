// spread (lab reactor): with 10 x -n connections held open, every loop's
// epoll set watches some of them (its interest list, /proc/PID/fdinfo/EPFD),
// every loop's thread woke up to serve them (voluntary_ctxt_switches), and,
// under strace, every loop's thread reads and writes connections itself: a
// thread that wakes and goes back to sleep while another serves its set is
// a decoy.
#include <fmt/format.h>

#include <map>
#include <set>

#include "checks.hpp"
#include "expect.hpp"
#include "reactor_loops.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace reactor;

namespace {

// spread (reactor): every loop's epoll set watches some of 10 x -n held connections,
// and every loop's thread woke up to serve them.
void check_spread(Context& ctx) {
    const int n = loops_of(ctx);
    const auto epolls = require_loops(ctx, n, "idle, before any client");
    const auto loops = waiting_loops(ctx, n);
    const auto before = loops ? switches_of(ctx.pid(), *loops) : std::map<pid_t, std::uint64_t>{};
    const int count = 10 * n;
    auto held = hold_served(ctx, count, "connection");
    const std::string when = fmt::format("with {} connections held open", count);
    const auto per_epoll = connections_per_epoll(ctx, held, epolls, when);
    ctx.log("{}: {}", when, counts_text(per_epoll));
    for (const auto& [ep, c] : per_epoll) {
        if (c == 0) {
            fail(fmt::format("{}, the epoll instance fd {} watches none of them ({})", when, ep,
                             counts_text(per_epoll)),
                 "every loop must get connections: with -m reuseport each loop has a listening "
                 "socket of its own (SO_REUSEPORT), which only its epoll set watches, and the "
                 "kernel spreads the connections over them; with -m handoff the acceptor hands "
                 "them to the loops in turn");
        }
    }
    // Each loop's thread woke up to serve its share.
    if (loops && loops->size() == static_cast<std::size_t>(n)) {
        const auto after = switches_of(ctx.pid(), *loops);
        for (const pid_t tid : *loops) {
            if (after.at(tid) <= before.at(tid)) {
                fail(fmt::format("{}, loop thread {} never woke up: another thread serves its "
                                 "connections",
                                 when, tid),
                     reactor_hint);
            }
        }
        // ...and served it itself.
        require_loops_do_the_work(ctx, held, *loops, epolls, when);
    }
}

}  // namespace

CSD_CHECK(spread) {
    return {
        "spread", 10, check_spread,
        "reactor: 10 x -n connections held open: every loop's epoll set watches some of them "
        "(/proc/PID/fdinfo) and every loop's thread woke up to serve them",
        "every loop must get connections: with -m reuseport each loop has a listening socket of "
        "its own (SO_REUSEPORT) that only its epoll set watches; with -m handoff the acceptor "
        "hands the connections to the loops in turn"};
}

}  // namespace csd::grade
