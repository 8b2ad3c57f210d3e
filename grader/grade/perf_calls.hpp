#pragma once
/// @file perf_calls.hpp
/// @brief The system calls of a server recorded by perf's tracepoints, a
/// witness that does not stop the server: no ptrace, so no call takes
/// longer by more than a fraction of a microsecond, and a server that
/// times its own calls to find strace (and behaves only while watched)
/// cannot tell it is watched. Optional: where perf or the kernel's
/// tracepoints are missing, or may not be used, attached() is false and a
/// check logs why and goes on with what strace saw.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::grade {

/// One event perf recorded: the entry to a system call (name "sendto" for
/// the tracepoint syscalls:sys_enter_sendto) or a task's end (name
/// "task-exit", sched:sched_process_exit), with the tracepoint's fields
/// ("fd", "len", "flags", ...; numbers as the kernel passed them).
struct PerfEvent {
    pid_t pid = 0;     ///< the process (thread group)
    pid_t tid = 0;     ///< the task that made the call or ended
    std::string name;  ///< the call's name, or "task-exit"
    std::map<std::string, std::uint64_t, std::less<>> fields;  ///< the tracepoint's fields

    /// The field @p key, or @p otherwise when the event has none.
    [[nodiscard]] std::uint64_t field(std::string_view key, std::uint64_t otherwise = 0) const;
    /// The descriptor the call works on (field "fd", "epfd", "out_fd"), or
    /// -1 for a call without one.
    [[nodiscard]] int fd() const;
};

/// The events of `perf script -F pid,tid,event,trace` output @p text, in
/// its order (time order). Lines of other events are skipped.
[[nodiscard]] std::vector<PerfEvent> parse_perf_script(std::string_view text);

/// perf record of the entries to the system calls @p calls and (with
/// @p task_exits) the end of every task, for process @p pid, its threads
/// and what it starts later, from construction to finish(). Owns the perf
/// process and a temporary directory (its data file and control fifos),
/// removed by the destructor. Use from one thread.
class PerfCalls {
  public:
    /// Starts perf record and waits (up to 3 s, scaled) until its events are
    /// enabled. Names in @p calls that this kernel has no tracepoint for are
    /// left out. When perf cannot record here, attached() is false and
    /// why_not() says why.
    PerfCalls(pid_t pid, const std::vector<std::string>& calls, bool task_exits = false);
    ~PerfCalls();
    PerfCalls(const PerfCalls&) = delete;
    PerfCalls& operator=(const PerfCalls&) = delete;

    /// True when perf records the process.
    [[nodiscard]] bool attached() const noexcept { return why_not_.empty(); }
    /// Why there is no record, "" when attached.
    [[nodiscard]] const std::string& why_not() const noexcept { return why_not_; }

    /// Stops perf and returns the events of process @p pid's threads it
    /// recorded (those of other processes, @p pid's children, are left
    /// out); nullopt, and why_not() says why, when what perf recorded
    /// cannot be read. Call once, when attached.
    std::optional<std::vector<PerfEvent>> finish();

  private:
    void stop();

    pid_t pid_;
    pid_t perf_ = -1;  // perf record, -1 once reaped
    std::string dir_;  // the temporary directory, "" once removed
    std::string why_not_;
};

}  // namespace csd::grade
