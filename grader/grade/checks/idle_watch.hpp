#pragma once
/// @file idle_watch.hpp
/// @brief Who wakes up in an idle server: the voluntary context switches
/// of every thread of its process tree (/proc/PID/task/TID/status), read
/// twice, and the thread that woke up most in between. A thread that
/// waits for what brings it work wakes 0 times while nothing happens; one
/// that sleeps a little and looks again (a timer loop) wakes every period.
/// Used by idle-cpu and modes. Main thread only.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace csd::grade::idle_watch {

/// One thread (pid, tid) of one process of the server.
using Task = std::pair<pid_t, pid_t>;

/// Each task's voluntary context switches so far.
using Wakeups = std::map<Task, std::uint64_t>;

/// The wakeups so far of every thread of @p root's process tree, but
/// io_uring's kernel workers and the lab library's csd-signals thread
/// (TSan builds).
[[nodiscard]] Wakeups snapshot(pid_t root);

/// The thread that woke up most between two snapshots.
struct Busiest {
    pid_t pid = 0;              ///< Its process.
    pid_t tid = 0;              ///< The thread.
    std::uint64_t wakeups = 0;  ///< How often it woke up (0: nobody did).
    std::string name;           ///< Its name (/proc/PID/task/TID/comm), for messages.
};

/// The busiest of the tasks alive in both @p before and @p after.
[[nodiscard]] Busiest busiest(const Wakeups& before, const Wakeups& after);

/// How long to watch @p program idle, @p base at time scale 1. A slower
/// machine does not make a waiting thread wake up, but the grader's
/// deadlines (a stop, a replaced worker) scale, and a timer loop only has
/// to be as fast as the deadline it serves: the window scales with them,
/// so that such a loop still wakes at least twice in it. Not for a
/// sanitizer build, whose scale pays for its slow runtime (and no such
/// build is a student's last word).
[[nodiscard]] std::chrono::milliseconds window_for(std::chrono::milliseconds base,
                                                   const std::string& program);

/// Watches @p root's tree for @p window and returns its busiest thread.
[[nodiscard]] Busiest watch(pid_t root, std::chrono::milliseconds window);

/// The shortest timeout an idle thread's wait may have: a wait for the stop
/// with an hour's timeout (csd::wait_for_stop()) is a wait; one of seconds
/// is a timer loop that a wakeup count over a few seconds cannot see.
inline constexpr double min_idle_timeout_ms = 60'000;

/// A thread of @p root's tree blocked in a sleep (nanosleep,
/// clock_nanosleep) now, or in a wait whose timeout is under
/// min_idle_timeout_ms, as "thread 12 of process 10 (\"name\") sleeps in
/// clock_nanosleep" or "... waits in poll on fd 3 with a timeout of 4600
/// ms", or a process of it whose io_uring holds a timer of under
/// min_idle_timeout_ms (ring_timers::queued_timeout(), "process 10 has an
/// IORING_OP_TIMEOUT of 4600 ms ..."): an idle server's threads wait for
/// their work, never for time to pass. "" when none is; the same
/// exclusions as snapshot(). Not for a ThreadSanitizer build, whose own
/// thread sleeps.
[[nodiscard]] std::string sleeping_thread(pid_t root);

/// "thread 12 of process 10 (\"csd-loop\") woke up 5 times in 2.00 s
/// (voluntary_ctxt_switches in /proc/10/task/12/status)".
[[nodiscard]] std::string describe(const Busiest& b, double seconds);

}  // namespace csd::grade::idle_watch
