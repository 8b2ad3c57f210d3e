// zombies: after 50 connections no child of the server may stay a zombie.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_zombies(Context& ctx) {
    const Deadline overall(30s);
    for (int i = 1; i <= 50; ++i) {
        fetch(ctx.port(), 4000, overall.within(3s), fmt::format("connection {} of 50", i));
    }
    const Deadline within(1s);
    std::vector<procfs::ProcStat> zombies;
    for (;;) {
        zombies.clear();
        for (const auto& p : procfs::descendants(ctx.pid())) {
            if (p.state == 'Z') zombies.push_back(p);
        }
        if (zombies.empty()) return;
        if (within.expired()) break;
        std::this_thread::sleep_for(scaled(50ms));
    }
    std::string pids;
    for (std::size_t i = 0; i < zombies.size() && i < 20; ++i) {
        pids += (i ? ", " : "") + std::to_string(zombies[i].pid);
    }
    if (zombies.size() > 20) pids += ", ...";
    fail(
        fmt::format("1 s after 50 connections ended, the server (pid {}) had {} zombie "
                    "child{} (state Z, exited but not reaped): pid{} {}",
                    ctx.pid(), zombies.size(), zombies.size() == 1 ? "" : "ren",
                    zombies.size() == 1 ? "" : "s", pids));
}

}  // namespace csd::grade
