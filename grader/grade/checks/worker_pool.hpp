#pragma once
/// @file worker_pool.hpp
/// @brief What the checks of a pool of -n worker processes (replace,
/// stalled, distribution; labs prefork and fdpass) share: the workers below
/// the server, seen in /proc. Main thread only.

#include <sys/types.h>

#include <set>
#include <string>
#include <string_view>

#include "check.hpp"

namespace csd::grade::worker_pool {

/// The pids of the processes below @p top (its workers).
std::set<pid_t> workers_below(pid_t top);

/// @p pids as "1, 2, 3" ("none" when empty), for messages.
std::string pids_text(const std::set<pid_t>& pids);

/// The lab's pool size (-n); fails when the grader has none for the lab.
int pool_size(const Context& ctx);

/// The @p n workers of the server (given 2 s); fails when there are not @p n.
std::set<pid_t> pool_of(Context& ctx, int n, std::string_view when);

/// SIGKILL to worker @p victim (killed @p how, for messages); fails unless
/// within 2 s there are @p n workers again, the victim not among them.
/// Returns them.
std::set<pid_t> kill_and_expect_replacement(Context& ctx, int n, pid_t victim,
                                            std::string_view how);

}  // namespace csd::grade::worker_pool
