// What the checks of a pool of -n worker processes (replace, stalled,
// distribution; labs prefork and fdpass) share: the workers below the
// server, seen in /proc.
#include "worker_pool.hpp"

#include <fmt/format.h>

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

}  // namespace csd::grade::worker_pool
