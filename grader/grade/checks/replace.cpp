// replace (labs prefork and fdpass): a worker of the pool of -n processes
// killed with SIGKILL under load is replaced, and so is one killed while it
// waits in accept() (holding the accept lock, if the workers take one);
// every request after that is served; and once it is idle again, the parent
// holds no more descriptors than before the kills (what it kept of a dead
// worker, fdpass's end of the channel, is closed). The workers are the
// server's tree in /proc.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "syscalls.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace worker_pool;

namespace {

// A worker of the server blocked in accept() (given 1 s to get there), 0
// when none is. With an accept lock it is the worker that holds the lock:
// the others wait for the lock, not in accept().
pid_t worker_in_accept(Context& ctx) {
    return poll_until(1s, [&] {
        for (const pid_t pid : workers_below(ctx.pid())) {
            const auto call = procfs::current_syscall(pid);
            if (!call.number) continue;
            const std::string name = syscall_name(*call.number);
            if (name == "accept" || name == "accept4") return pid;
        }
        return pid_t{0};
    });
}

// The parent's descriptors, idle again after the replacements: no more than
// @p before (the same parent, idle before the kills), within 2 s.
void expect_parent_fds_back(Context& ctx, const std::vector<procfs::FdInfo>& before,
                            const std::string& killed, std::size_t victims) {
    std::vector<procfs::FdInfo> now;
    const bool back = poll_until(2s, [&] {
        now = procfs::open_fds(ctx.pid());
        return now.size() <= before.size();
    });
    ctx.log("the parent's descriptors: {} before the kills, {} after", before.size(), now.size());
    if (back) return;
    // What is new: descriptors whose number or target was not there before.
    std::vector<std::string> added;
    for (const auto& fd : now) {
        const bool old = std::any_of(before.begin(), before.end(), [&](const procfs::FdInfo& b) {
            return b.fd == fd.fd && b.target == fd.target;
        });
        if (!old) added.push_back(fmt::format("{} -> {}", fd.fd, fd.target));
    }
    fail(fmt::format("the parent (pid {}) had {} descriptors open before worker{} {} {} killed "
                     "and replaced, and still {} once the server was idle again (new: {}): it "
                     "kept something of each dead worker",
                     ctx.pid(), before.size(), victims == 1 ? "" : "s", killed,
                     victims == 1 ? "was" : "were", now.size(), fmt::join(added, ", ")),
         "when you reap a dead worker, close what the parent kept for it (its end of the "
         "channel, if the parent talks to its workers) before you start the replacement: "
         "otherwise every death leaks a descriptor, and the parent runs out in the end");
}

// replace: a worker killed under load is replaced; nothing is lost afterwards.
void check_replace(Context& ctx) {
    const int n = pool_size(ctx);
    const auto before = pool_of(ctx, n, "before the kill");
    const auto parent_fds = procfs::open_fds(ctx.pid());
    const Deadline overall(40s);
    // A busy worker: 2n clients ask for 1 MiB each and do not read yet.
    std::vector<Connection> load;
    for (int i = 0; i < 2 * n; ++i) {
        load.push_back(Connection::open(ctx.port(), overall.within(3s)));
        load.back().send_all(request_line(1 << 20), overall.within(3s), "a loading client");
    }
    std::this_thread::sleep_for(scaled(100ms));
    std::vector<pid_t> victims = {*before.begin()};
    kill_and_expect_replacement(ctx, n, victims.back(),
                                fmt::format("with {} clients loading the server", 2 * n));
    load.clear();
    // A worker waiting in accept(): with an accept lock, the one holding it.
    // A robust lock is released by its owner's death; any other stops the
    // pool. (No worker waits in accept() where the parent accepts.)
    if (const pid_t waiting = worker_in_accept(ctx); waiting != 0) {
        victims.push_back(waiting);
        kill_and_expect_replacement(ctx, n, waiting,
                                    "while it waited in accept(), holding the accept lock if "
                                    "the workers take one");
    }
    const std::string killed = fmt::format("{}", fmt::join(victims, " and "));
    for (int i = 1; i <= 4 * n; ++i) {
        try {
            fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s),
                  fmt::format("request {} of {} after worker {} {} replaced", i, 4 * n, killed,
                              victims.size() == 1 ? "was" : "were"));
        } catch (const CheckFailed& e) {
            if (victims.size() < 2) throw;
            fail(e.what(),
                 "a worker killed while it holds the accept lock must not stop the others: make "
                 "the mutex robust (pthread_mutexattr_setrobust) and, when pthread_mutex_lock "
                 "returns EOWNERDEAD, call pthread_mutex_consistent; an fcntl record lock is "
                 "released by the kernel when its owner dies");
        }
    }
    expect_parent_fds_back(ctx, parent_fds, killed, victims.size());
}

}  // namespace

CSD_CHECK(replace) {
    return {"replace",
            10,
            check_replace,
            "a worker killed with SIGKILL under load is replaced within 2 s, and so is one killed "
            "while it waits in accept (holding the accept lock, if the workers take one); every "
            "request after that is served, and the idle parent has no more descriptors than "
            "before the kills",
            "on SIGCHLD, reap the dead worker (waitpid(-1, &st, WNOHANG) in a loop) and fork a new "
            "one in its slot; the parent never exits because a worker did",
            {"cpu"}};
}

}  // namespace csd::grade
