// cap: a thread per connection, but not without bound (docs/contract.md,
// section 2). A flood of idle clients larger than the cap is held open: the
// server's thread count (/proc/PID/task) must reach the cap and never pass
// it; the clients beyond the cap wait in the listen queue and are served
// once the flood leaves; then the server serves a new client and its thread
// count comes back to its idle value.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr const char* cap_hint =
    "keep at most the cap of connection threads (docs/contract.md, section 2): with that many "
    "alive, do not accept; join the threads that ended and look again, until one ends. A client "
    "beyond the cap waits in the listen queue: never close or refuse it because of the cap";

// Clients beyond the cap that send a request while they wait in the listen queue.
constexpr int late_clients = 8;

// cap: a flood of idle clients beyond lab().thread_cap keeps the thread
// count at the cap; the clients beyond it are served once it frees up.
void check_cap(Context& ctx) {
    const int cap = ctx.lab().thread_cap;
    if (cap <= 0) fail(fmt::format("the grader has no thread cap for lab {}", ctx.lab().id));
    // Half the cap again beyond it: well within the listen backlog (1024 by
    // the library's csd::listen_tcp()), so every connect completes at once.
    const int flood = cap + cap / 2 + late_clients;
    const int idle = settled_threads(ctx);
    const int most = idle + cap;
    ctx.log("{} threads when idle; flooding with {} clients, cap {}", idle, flood, cap);

    int peak = idle;
    const auto sample = [&] {
        const int now = procfs::thread_count(ctx.pid());
        peak = std::max(peak, now);
        return now;
    };
    const auto require_capped = [&](std::string_view when) {
        if (peak <= most) return;
        fail(fmt::format("{}: the server (pid {}) had {} threads, {} when idle: more than {} "
                         "connection threads (the cap) at once",
                         when, ctx.pid(), peak, idle, cap),
             cap_hint);
    };

    const Deadline overall(60s);
    std::vector<Connection> conns;
    conns.reserve(static_cast<std::size_t>(flood));
    for (int i = 1; i <= flood; ++i) {
        const std::string label = fmt::format("flooding client {} of {} (all held open)", i, flood);
        conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
        // The last ones, surely beyond the cap, ask for a reply at once.
        if (i > flood - late_clients) {
            conns.back().send_all(request_line(4000), overall.within(3s), label);
        }
        (void)sample();
    }
    const std::string held = fmt::format("with {} idle clients held open", flood - late_clients);
    int threads = 0;
    const bool full = poll_until(5s, [&] {
        threads = sample();
        return threads >= most;
    });
    require_capped(held);
    if (!full) {
        ctx.require_running(held);
        fail(fmt::format("{}, the server (pid {}) had {} threads, {} when idle: it serves fewer "
                         "than {} clients (the cap) at once, each on its thread",
                         held, ctx.pid(), threads, idle, cap),
             cap_hint);
    }
    // Stays at the cap while the flood is held, and waits there: every
    // held client is idle, so a server that waits for a free thread (on a
    // condition, on a thread's end) uses no CPU; one that spins at the cap
    // (a loop around sched_yield() or a try) uses a whole one.
    std::this_thread::sleep_for(scaled(100ms));
    const auto cpu_start = Deadline::Clock::now();
    const auto cpu_before = procfs::tree_cpu_ticks(ctx.pid());
    for (int i = 0; i < 32; ++i) {
        std::this_thread::sleep_for(scaled(25ms));
        (void)sample();
    }
    const double cpu = static_cast<double>(procfs::cpu_ticks_between(
                           cpu_before, procfs::tree_cpu_ticks(ctx.pid()))) /
                       static_cast<double>(procfs::ticks_per_second());
    const double wall = seconds_since(cpu_start);
    require_capped(held);
    ctx.require_running(held);
    ctx.log("{}: {:.3f} s of CPU in {:.2f} s", held, cpu, wall);
    if (cpu >= 0.25 * wall) {
        fail(fmt::format("{}, at the cap, the server (pid {}) used {:.0f}% of a CPU ({:.2f} s in "
                         "{:.2f} s) though every client it held was idle: it spins while it "
                         "waits for a free thread",
                         held, ctx.pid(), 100 * cpu / wall, cpu, wall),
             "at the cap, wait until a thread ends (a condition variable its end signals, or a "
             "join), with no polling: the clients beyond it wait in the listen queue");
    }
    // The clients beyond the cap wait in the listen queue: the server has
    // not accepted them, nor parked them somewhere else than on a thread of
    // their own. A connection still in the listen queue has no socket
    // inode yet in /proc/net/tcp; an accepted one has, wherever its
    // descriptor went (a queue of the server's, a message in flight).
    int accepted = 0;
    for (const auto& s : procfs::tcp_sockets()) {
        if (s.local_port == ctx.port() && s.state == procfs::tcp_established && s.inode != 0) {
            ++accepted;
        }
    }
    ctx.log("{}: {} connections accepted (an inode in /proc/net/tcp)", held, accepted);
    if (accepted > cap + 2) {
        fail(fmt::format("{}, the server (pid {}) has accepted {} connections for a cap of {} "
                         "threads: it took the clients beyond the cap out of the listen queue "
                         "and parks them",
                         held, ctx.pid(), accepted, cap),
             cap_hint);
    }

    // Release the flood but the late clients: they are served now.
    conns.erase(conns.begin(), conns.end() - late_clients);
    for (int i = 0; i < late_clients; ++i) {
        const std::string label =
            fmt::format("client {} of {} (beyond the cap of {}), once the {} others left",
                        flood - late_clients + i + 1, flood, cap, flood - late_clients);
        try {
            expect_reply(ctx.reply(), conns[static_cast<std::size_t>(i)], 4000, overall.within(10s),
                         label);
        } catch (const CheckFailed& e) {
            ctx.require_running(label);
            fail(fmt::format("{} (a client beyond the cap waits in the listen queue and is served "
                             "when a thread is free; it is not refused)",
                             e.what()),
                 cap_hint);
        }
        (void)sample();
    }
    conns.clear();
    require_capped("after the flood");
    fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s), "a new client after the flood");

    const bool back = poll_until(2s, [&] {
        threads = procfs::thread_count(ctx.pid());
        return threads <= idle;
    });
    if (!back) {
        ctx.require_running("after the flood");
        fail(fmt::format("2 s after the {} clients of the flood left, the server (pid {}) still "
                         "had {} threads ({} when idle): a thread must end when its client is gone",
                         flood, ctx.pid(), threads, idle),
             cap_hint);
    }
    ctx.log("peak {} threads ({} when idle, cap {})", peak, idle, cap);
}

}  // namespace

CSD_CHECK(cap) {
    return {
        "cap",
        10,
        check_cap,
        "a flood of idle clients beyond the thread cap: the thread count reaches the cap and "
        "stays there; the clients beyond it are served once the flood leaves",
        "keep at most the cap of connection threads (docs/contract.md, section 2): with that "
        "many alive, stop accepting until one ends; a client beyond the cap waits in the listen "
        "queue, never close or refuse it because of the cap",
        {"connections", "cpu"}};
}

}  // namespace csd::grade
