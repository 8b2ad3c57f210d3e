// What the checks of a pool of -n worker processes (replace, stalled,
// distribution; labs prefork and fdpass) share: the workers below the
// server, seen in /proc.
#include "worker_pool.hpp"

#include <fmt/format.h>
#include <signal.h>

#include "models.hpp"
#include "procfs.hpp"

namespace csd::grade::worker_pool {

using namespace std::chrono_literals;

std::set<pid_t> workers_below(pid_t top) {
    std::set<pid_t> out;
    for (const auto& p : procfs::descendants(top)) out.insert(p.pid);
    return out;
}

std::string pids_text(const std::set<pid_t>& pids) {
    return pids.empty() ? std::string("none") : fmt::format("{}", fmt::join(pids, ", "));
}

int pool_size(const Context& ctx) {
    const int n = ctx.lab().workers;
    if (n <= 0) fail(fmt::format("the grader has no pool size (-n) for lab {}", ctx.lab().id));
    return n;
}

std::set<pid_t> pool_of(Context& ctx, int n, std::string_view when) {
    std::set<pid_t> pids;
    const bool ok = poll_until(2s, [&] {
        pids = workers_below(ctx.pid());
        return pids.size() == static_cast<std::size_t>(n);
    });
    if (!ok) {
        ctx.require_running(when);
        fail(fmt::format("{}: the server (pid {}) started with -n {} has {} processes below it "
                         "({}); expected {} workers",
                         when, ctx.pid(), n, pids.size(), pids_text(pids), n),
             "fork the -n workers at start and keep -n of them running");
    }
    return pids;
}

std::set<pid_t> kill_and_expect_replacement(Context& ctx, int n, pid_t victim,
                                            std::string_view how) {
    ctx.log("SIGKILL to worker {} ({})", victim, how);
    ::kill(victim, SIGKILL);
    std::set<pid_t> now;
    const bool replaced = poll_until(2s, [&] {
        now = workers_below(ctx.pid());
        return now.size() == static_cast<std::size_t>(n) && !now.contains(victim);
    });
    ctx.require_running(fmt::format("after worker {} was killed with SIGKILL", victim));
    if (!replaced) {
        fail(fmt::format("2 s after worker {} was killed with SIGKILL ({}), the processes below "
                         "the server were {}; expected {} workers again, the dead one replaced",
                         victim, how, pids_text(now), n),
             "on SIGCHLD, reap the dead worker (waitpid(-1, &st, WNOHANG) in a loop) and fork "
             "a new one in its place; the parent must never exit because a worker did");
    }
    return now;
}

}  // namespace csd::grade::worker_pool
