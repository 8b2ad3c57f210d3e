// idle-cpu: with idle clients connected, the server must not burn CPU.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "net.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_idle_cpu(Context& ctx) {
    std::vector<Connection> idle;
    for (int i = 0; i < 5; ++i) {
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        if (i < 2) idle.back().send_all("40", Deadline(3s), "half a request");
    }
    std::this_thread::sleep_for(scaled(200ms));
    const auto start = Deadline::Clock::now();
    const auto before = procfs::cpu_ticks(ctx.pid());
    std::this_thread::sleep_for(scaled(1s));
    const auto after = procfs::cpu_ticks(ctx.pid());
    const double wall = seconds_since(start);
    if (!before || !after) ctx.require_running("while 5 clients were idle");
    if (!before || !after) fail("could not read the server's CPU time from /proc");
    const double cpu =
        static_cast<double>(*after - *before) / static_cast<double>(procfs::ticks_per_second());
    ctx.log("idle CPU: {:.3f} s in {:.3f} s", cpu, wall);
    if (cpu >= 0.05 * wall) {
        fail(
            fmt::format("the server (pid {}) used {:.0f}% of a CPU ({:.2f} s of CPU time in "
                        "{:.2f} s) while 5 clients were connected and idle (2 of them had sent "
                        "half a request, \"40\")",
                        ctx.pid(), 100 * cpu / wall, cpu, wall));
    }
}

CSD_CHECK(idle_cpu) {
    return {"idle-cpu",
            5,
            check_idle_cpu,
            "less than 5% CPU with 5 idle clients",
            "do not busy-wait: block without a timeout (or a long one), and only ask to be woken "
            "for writability while you have something to write",
            {"cpu"}};
}

}  // namespace csd::grade
