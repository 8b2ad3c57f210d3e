#pragma once
/// @file jobs.hpp
/// @brief Running the batch's commands (builds, graders) N at a time, each
/// in a process group of its own, with a time limit, and leaving no
/// process behind.
///
/// csd-batch is a child subreaper (become_subreaper()): whatever a command
/// leaves behind when it ends or is killed (a server of a killed grader) is
/// reparented to csd-batch, which ends it. Main thread only.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace csd::batch {

/// A command to run.
struct Task {
    std::vector<std::string> argv = {};  ///< argv[0] is the program's path.
    std::string log = {};  ///< File for its stdout and stderr (truncated); empty: /dev/null.
    std::chrono::seconds limit{};  ///< Time limit; then SIGTERM, 5 s later SIGKILL.
};

/// How a task ended.
struct Outcome {
    int status = -1;         ///< Wait status (waitpid); -1 when it could not start.
    bool timed_out = false;  ///< It outlived its limit and was killed.
    double seconds = 0;      ///< Wall time.
};

/// Once, first thing: becomes a child subreaper and makes SIGINT, SIGTERM
/// and SIGHUP set the flag that stop_requested() reads.
void init_jobs();

/// True once SIGINT, SIGTERM or SIGHUP arrived.
[[nodiscard]] bool stop_requested();

/// Runs @p tasks, at most @p jobs at once, in order. @p on_done(i, outcome)
/// is called as task i ends, @p on_tick(running) every 100 ms or so. On
/// stop_requested() the running tasks are ended and the rest not started
/// (their on_done is not called). Returns false when stopped so.
bool run_tasks(const std::vector<Task>& tasks, int jobs,
               const std::function<void(std::size_t, const Outcome&)>& on_done,
               const std::function<void(int)>& on_tick);

/// Ends (SIGKILL) every process left below csd-batch, except the process
/// trees of @p keep; reaps what it can. Returns how many it found.
int end_strays(const std::vector<pid_t>& keep = {});

/// Processes below csd-batch (descendants), for the report. Reads /proc.
[[nodiscard]] std::vector<pid_t> descendants();

}  // namespace csd::batch
