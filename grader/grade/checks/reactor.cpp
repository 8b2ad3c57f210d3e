// The reactor lab's part of the architecture check (Model::reactor): -n
// event loops, each a thread with an epoll instance of its own (n threads,
// or n + 1 with an acceptor); idle, every loop sleeps in epoll_wait()
// without waking; every held connection is in exactly one loop's interest
// list; each loop's thread wakes up for its own connections (a request, a
// new connection handed over). Seen from the outside, in /proc
// (reactor_loops.hpp), and under strace.
#include <sys/wait.h>

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

#include "models.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "reactor_loops.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Started with -n one more than the lab's workers-max (labs/labs.txt; the
// reactor's 64 loops, docs/contract.md), the server refuses: exit status 2,
// no listener. A loop is a thread and an epoll instance; the limit caps
// what a command line can make the server create.
void require_loop_limit(Context& ctx) {
    const int max_loops = ctx.lab().workers_max;
    if (max_loops <= 0) return;
    std::vector<std::string> args = ctx.server().args();
    const auto n = std::find(args.begin(), args.end(), "-n");
    if (n == args.end() || n + 1 == args.end()) return;
    const std::vector<std::string> before = args;
    *(n + 1) = std::to_string(max_loops + 1);
    const Readiness ready = ctx.server().start(3s, args);
    const auto status = ctx.server().status();
    const bool refused =
        !ready.accepting && status && WIFEXITED(*status) && WEXITSTATUS(*status) == 2;
    if (!refused) {
        const std::string what = ready.accepting
                                     ? std::string("it started and accepted connections")
                                 : status ? describe_wait_status(*status)
                                          : std::string("it did not exit");
        fail(fmt::format("started with -n {}: {} (more than {} loops is a usage error: exit "
                         "status 2, before listening)",
                         max_loops + 1, what, max_loops),
             fmt::format("check -n against the contract's limit of {} loops when you read the "
                         "command line, and exit with status 2 and a message beyond it: a "
                         "command line must not make the server start any number of threads",
                         max_loops));
    }
    (void)ctx.server().start(5s, before);
}

}  // namespace

using namespace reactor;

namespace {

std::string tid_list(const std::vector<pid_t>& tids) {
    return tids.empty() ? std::string("none") : fmt::format("{}", fmt::join(tids, ", "));
}

// A new connection that sends nothing, @p rounds times: the loop whose set
// takes it must wake up for it (its eventfd, or its own listener) before
// any byte arrives. An acceptor that adds the connection to a sleeping
// loop's set itself leaves that loop asleep; the thread that waits in a
// set is the one that changes it.
void require_handoff_wakes_loop(Context& ctx, const std::vector<pid_t>& loops,
                                const std::vector<int>& epolls, int rounds) {
    const auto set_of_loop = loop_sets(loops);
    if (set_of_loop.empty()) return;
    std::vector<Connection> silent;  // kept open: a close would wake a loop too
    for (int r = 1; r <= rounds; ++r) {
        const std::string when =
            fmt::format("a new connection that sends nothing ({} of {})", r, rounds);
        const auto before = switches_of(ctx.pid(), loops);
        silent.push_back(Connection::open(ctx.port(), Deadline(3s)));
        const auto& c = silent.back();
        // Until its descriptor is in a loop's set.
        std::optional<int> set;
        (void)poll_until(2s, [&] {
            const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), c.local_port());
            if (fd) set = set_watching(ctx.pid(), *fd, epolls);
            return set.has_value();
        });
        if (!set) {
            ctx.require_running(when);
            fail(fmt::format("{}: 2 s after it connected, no loop's epoll set watched it", when),
                 reactor_hint);
        }
        std::this_thread::sleep_for(scaled(50ms));
        const auto after = switches_of(ctx.pid(), loops);
        for (const auto& [tid, ep] : set_of_loop) {
            if (ep != *set || after.at(tid) > before.at(tid)) continue;
            fail(fmt::format("{}: it joined the epoll set fd {} of loop thread {}, and that "
                             "thread never woke up: another thread added it to a set that a "
                             "sleeping loop waits in",
                             when, ep, tid),
                 "hand a new connection over to its loop: put it in the loop's inbox and wake "
                 "the loop (write to its eventfd); the loop's own thread adds it to its epoll "
                 "set");
        }
    }
}

}  // namespace

// Every loop watches the stop descriptor in its epoll set (docs/contract.md,
// "Loops"): idle, some descriptor is in the interest list of each of the
// @p epolls. Loops woken at the stop another way (the main thread writing
// to each one's eventfd) do not: the contract makes the stop every loop's
// own event, which no thread has to pass on.
void require_stop_in_every_set(Context& ctx, const std::vector<int>& epolls) {
    std::optional<std::set<int>> common;
    std::string lists;
    for (const int ep : epolls) {
        const auto targets = procfs::epoll_targets(ctx.pid(), ep);
        if (!targets) return;  // unreadable here: connection_sets() says so later
        const std::set<int> mine(targets->begin(), targets->end());
        lists +=
            fmt::format("{}fd {}: {{{}}}", lists.empty() ? "" : "; ", ep, fmt::join(mine, ", "));
        if (!common) {
            common = mine;
        } else {
            std::set<int> both;
            std::set_intersection(common->begin(), common->end(), mine.begin(), mine.end(),
                                  std::inserter(both, both.begin()));
            common = std::move(both);
        }
    }
    if (!common || !common->empty()) return;
    fail(fmt::format("idle, no descriptor is in the interest list of every one of the {} epoll "
                     "instances ({}; /proc/{}/fdinfo): the loops do not all watch the stop "
                     "descriptor",
                     epolls.size(), lists, ctx.pid()),
         "add the stop descriptor (csd::stop_fd()) to every loop's epoll set: at SIGTERM it "
         "becomes readable and each loop sees the stop by itself (docs/contract.md, Loops)");
}

void check_reactor_architecture(Context& ctx) {
    const int n = loops_of(ctx);
    require_stop_in_every_set(ctx, require_loops(ctx, n, "idle, before any client"));
    // Idle, every loop sleeps in epoll_wait() and stays asleep: a loop
    // that wakes up now and then to look at its inbox answers late and
    // costs CPU for nothing.
    const auto loops = waiting_loops(ctx, n);
    if (loops) {
        if (loops->size() != static_cast<std::size_t>(n)) {
            fail(
                fmt::format("idle, {} thread{} of the server (pid {}) wait{} in epoll_wait() ({}); "
                            "expected {}, one per loop",
                            loops->size(), loops->size() == 1 ? "" : "s", ctx.pid(),
                            loops->size() == 1 ? "s" : "", tid_list(*loops), n),
                reactor_hint);
        }
        const auto before = switches_of(ctx.pid(), *loops);
        std::this_thread::sleep_for(scaled(500ms));
        const auto after = switches_of(ctx.pid(), *loops);
        for (const pid_t tid : *loops) {
            const std::uint64_t woke = after.at(tid) - std::min(after.at(tid), before.at(tid));
            if (woke > 2) {
                fail(fmt::format("idle for 0.5 s, loop thread {} woke up {} times", tid, woke),
                     "a loop sleeps in epoll_wait() with no timeout (-1) until something happens: "
                     "wake it with its own descriptor (write to its eventfd when you hand it a "
                     "connection, and watch that eventfd in its epoll set), never by polling "
                     "its inbox on a timeout");
            }
        }
        ctx.log("idle: loop threads {} asleep in epoll_wait()", tid_list(*loops));
    } else {
        ctx.log("/proc/TID/syscall is not readable here: the idle loops were not looked at");
    }
    const int count = 4 * n;
    auto held = hold_served(ctx, count, "connection");
    const std::string when = fmt::format("with {} connections held open", count);
    const auto epolls = require_loops(ctx, n, when);
    const auto per_epoll = connections_per_epoll(ctx, held, epolls, when);
    ctx.log("{}: {}", when, counts_text(per_epoll));
    // The default mode hands the connections over (in turn, or to the
    // least loaded loop): every loop gets at least half of its share.
    for (const auto& [ep, c] : per_epoll) {
        if (2 * c >= count / n) continue;
        fail(fmt::format("{}, the epoll instance fd {} watches {} of them ({}): the acceptor "
                         "hands the connections over unevenly",
                         when, ep, c, counts_text(per_epoll)),
             "hand each new connection to the loops in turn (or to the one with the fewest): "
             "one loop that takes most clients serves them one after another while the other "
             "loops sleep");
    }
    // Each loop serves its own connections itself.
    if (loops && loops->size() == static_cast<std::size_t>(n)) {
        require_loops_do_the_work(ctx, held, *loops, epolls, when);
        require_handoff_wakes_loop(ctx, *loops, epolls, n);
    }
    // The loops are -n, whatever -n is.
    for (const int m : other_pool_sizes(ctx)) {
        restart_with_pool_size(ctx, m);
        (void)require_loops(ctx, m, fmt::format("started with -n {}, idle", m));
    }
    require_loop_limit(ctx);
}

}  // namespace csd::grade
