#pragma once
/// @file reactor_loops.hpp
/// @brief What the checks of a server of -n event loops, one per thread
/// (lab reactor: architecture, spread, stalled-loops), share: its loops seen
/// from the outside, in /proc: its threads (/proc/PID/task), what each
/// thread is blocked in (/proc/TID/syscall) and how often it slept
/// (voluntary_ctxt_switches), its epoll instances (`anon_inode:[eventpoll]`
/// in /proc/PID/fd) and the interest list of each (/proc/PID/fdinfo/EPFD).
/// Main thread only.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "net.hpp"

namespace csd::grade::reactor {

/// The hint of a server that is not -n loops, each a thread with an epoll instance of its own.
constexpr const char* reactor_hint =
    "run -n event loops, each on a thread of its own with an epoll instance of its own "
    "(epoll_create1 once per loop, at start), every connection in exactly one loop's epoll set; "
    "besides the loops, at most one acceptor thread, which waits in poll() (not in an epoll "
    "instance of its own): no thread per client, no epoll per client, no loop shared by several "
    "threads";

/// The lab's loop count (-n); fails when the grader has none for the lab.
int loops_of(const Context& ctx);

/// Fails unless the server has @p n loops' worth of threads (n, or n + 1
/// with an acceptor, plus a sanitizer's own) and exactly @p n epoll
/// instances, given 2 s to get there; returns the epoll descriptors.
std::vector<int> require_loops(Context& ctx, int n, std::string_view when);

/// The threads of the server blocked in epoll_wait() (its loops, when idle),
/// once there are @p n of them (given 1 s); nullopt when /proc/TID/syscall
/// cannot be read where the grader runs.
std::optional<std::vector<pid_t>> waiting_loops(Context& ctx, int n);

/// How often each thread of @p tids of process @p pid went to sleep so far
/// (0 for one that is gone).
std::map<pid_t, std::uint64_t> switches_of(pid_t pid, const std::vector<pid_t>& tids);

/// @p count connections that got their 4000-byte reply and are held open.
std::vector<Connection> hold_served(Context& ctx, int count, std::string_view what);

/// The epoll instance (of @p epolls) that watches each of @p held, in
/// order; fails when one of them is watched by no epoll instance or by
/// several.
std::vector<int> connection_sets(Context& ctx, const std::vector<Connection>& held,
                                 const std::vector<int>& epolls, std::string_view when);

/// The first of @p epolls (epoll instances of process @p pid) whose
/// interest list holds @p pid's descriptor @p fd; nullopt when none does
/// (or an interest list cannot be read).
std::optional<int> set_watching(pid_t pid, int fd, const std::vector<int>& epolls);

/// The epoll instance each of @p loops waits in (the first argument of
/// its epoll_wait(), /proc/TID/syscall), given 1 s for all of them to be
/// waiting; empty when that cannot be read.
std::map<pid_t, int> loop_sets(const std::vector<pid_t>& loops);

/// For each epoll instance of the server, how many of @p held it watches;
/// fails when one of them is watched by no epoll instance or by several.
std::map<int, int> connections_per_epoll(Context& ctx, const std::vector<Connection>& held,
                                         const std::vector<int>& epolls, std::string_view when);

/// "epoll fd 4: 3, epoll fd 5: 2" for messages.
std::string counts_text(const std::map<int, int>& count);

/// Who serves each loop's connections. Untraced first: one request on a
/// connection of each loop's set (of @p epolls) in turn; fails unless the
/// loop thread waiting in that set woke up for it, or when one thread woke
/// up for all of them (request_wakeups). Then one more request on each of
/// @p held under strace -f; fails unless each of the loop threads @p loops
/// read or wrote some connection itself (a loop that only waits while
/// another thread serves its set is a decoy). @p when says when, for
/// messages.
void require_loops_do_the_work(Context& ctx, std::vector<Connection>& held,
                               const std::vector<pid_t>& loops, const std::vector<int>& epolls,
                               const std::string& when);

}  // namespace csd::grade::reactor
