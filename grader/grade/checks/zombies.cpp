// zombies: after 50 connections no child of the server may stay a zombie.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// In a lab with a child per connection: a connection held open after its
// reply is served by a child. Without children there is nothing to reap,
// so nothing this check could observe: it fails, saying so.
void require_children(Context& ctx, Deadline overall) {
    for (int i = 1; i <= 3; ++i) {
        const std::string label = fmt::format("connection {} of 3 (held open)", i);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(4000), overall.within(3s), label);
        expect_reply(ctx.reply(), conn, 4000, overall.within(3s), label);
        if (!procfs::descendants(ctx.pid()).empty()) return;
    }
    ctx.require_running("with a connection held open");
    fail(fmt::format("with a connection open and served, the server (pid {}) had no child "
                     "process, 3 times: there is nothing to reap, so nothing this check can see",
                     ctx.pid()),
         "fork() one child per connection (see the architecture check), then reap every child "
         "that ends: SIGCHLD wakes you, then waitpid(-1, &st, WNOHANG) in a loop until it "
         "returns 0");
}

// zombies: no zombie children after 50 connections.
void check_zombies(Context& ctx) {
    const Deadline overall(30s);
    if (ctx.lab().model == Model::process_per_connection) require_children(ctx, overall);
    for (int i = 1; i <= 50; ++i) {
        fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s),
              fmt::format("connection {} of 50", i));
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

}  // namespace

CSD_CHECK(zombies) {
    return {"zombies", 5, check_zombies, "no zombie child remains after 50 connections",
            "a server that forks must reap every child: SIGCHLD wakes you, then "
            "waitpid(-1, &st, WNOHANG) in a loop until it returns 0 (one SIGCHLD may stand for "
            "several children); a single-process server must not fork at all"};
}

}  // namespace csd::grade
