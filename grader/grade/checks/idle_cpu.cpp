// idle-cpu: with idle clients connected, the server must not burn CPU, and
// no thread of it may wake up on a timer: a thread that sleeps a little and
// looks at its queue, flag or inbox again uses almost no CPU, but it is a
// polling loop all the same. Both are seen from outside, in /proc.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "idle_watch.hpp"
#include "net.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// How long the server is watched while its clients are idle, at time
/// scale 1 (idle_watch::window_for scales it). Longer than twice the 2 s a
/// stop may take: a thread that wakes on a timer to look at a stop flag
/// must wake at least every 2 s to stop in time, so it wakes at least
/// twice in the window.
constexpr auto idle_window = 4500ms;
/// More wakeups than this of one thread in the window is a timer loop (a
/// thread that waits for what brings it work wakes 0 times; 1 leaves room
/// for a wakeup at the start of the window).
constexpr std::uint64_t max_thread_wakeups = 1;

// idle-cpu: no busy loop with idle clients.
void check_idle_cpu(Context& ctx) {
    std::vector<Connection> idle;
    for (int i = 0; i < 5; ++i) {
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        if (i < 2) idle.back().send_all("40", Deadline(3s), "half a request");
    }
    std::this_thread::sleep_for(scaled(200ms));
    const bool count_wakeups = !procfs::runs_tsan(ctx.pid());
    const auto start = Deadline::Clock::now();
    // Every process of the server: a pool's workers are processes of their own.
    const auto before = procfs::tree_cpu_ticks(ctx.pid());
    const auto wakeups_before = idle_watch::snapshot(ctx.pid());
    std::this_thread::sleep_for(idle_watch::window_for(idle_window, ctx.program()));
    const auto wakeups_after = idle_watch::snapshot(ctx.pid());
    const auto after = procfs::tree_cpu_ticks(ctx.pid());
    const double wall = seconds_since(start);
    if (before.empty() || after.empty()) ctx.require_running("while 5 clients were idle");
    if (before.empty() || after.empty()) fail("could not read the server's CPU time from /proc");
    const double cpu = static_cast<double>(procfs::cpu_ticks_between(before, after)) /
                       static_cast<double>(procfs::ticks_per_second());
    ctx.log("idle CPU: {:.3f} s in {:.3f} s", cpu, wall);
    if (cpu >= 0.05 * wall) {
        fail(
            fmt::format("the server (pid {}) used {:.0f}% of a CPU ({:.2f} s of CPU time in "
                        "{:.2f} s) while 5 clients were connected and idle (2 of them had sent "
                        "half a request, \"40\")",
                        ctx.pid(), 100 * cpu / wall, cpu, wall));
    }
    if (!count_wakeups) {
        ctx.log("idle wakeups not counted: ThreadSanitizer's own thread wakes up on its own");
        return;
    }
    if (const std::string sleeper = idle_watch::sleeping_thread(ctx.pid()); !sleeper.empty()) {
        fail(fmt::format("while 5 clients were connected and idle, {}: it waits for time to "
                         "pass, not for its work",
                         sleeper),
             "a thread with nothing to do waits on what brings it work (a condition variable, "
             "the socket, an eventfd, the stop descriptor) with no timeout; a sleep, or a "
             "timeout of seconds, is a timer loop: it looks again when the time is up");
    }
    const auto busiest = idle_watch::busiest(wakeups_before, wakeups_after);
    ctx.log("idle wakeups: at most {} in one thread in {:.2f} s", busiest.wakeups, wall);
    if (busiest.wakeups > max_thread_wakeups) {
        fail(fmt::format("while 5 clients were connected and idle, {}: it sleeps a little and "
                         "looks again, a polling loop",
                         idle_watch::describe(busiest, wall)),
             "a thread with nothing to do must sleep until something happens: wait on what "
             "brings it work (a condition variable with a predicate, the socket, an eventfd, the "
             "stop descriptor), with no timeout; never sleep and look at a queue, a flag or an "
             "inbox again");
    }
}

}  // namespace

CSD_CHECK(idle_cpu) {
    return {"idle-cpu",
            5,
            check_idle_cpu,
            "less than 5% CPU with 5 idle clients, no thread that wakes up on a timer (at most "
            "1 wakeup each in 4.5 s), and none asleep (nanosleep, clock_nanosleep) or waiting "
            "with a timeout under a minute (/proc/TID/syscall)",
            "do not busy-wait: block without a timeout (the library's wait_for_stop() with an "
            "hour is fine), and only ask to be woken for writability while you have something to "
            "write",
            // No lock: it measures the idle server's own CPU time and
            // wakeups, which a busy neighbour does not change, and it
            // mostly sleeps (4.5 s): holding the cpu lock for that kept
            // every other measuring check of the test suite waiting.
            {}};
}

}  // namespace csd::grade
