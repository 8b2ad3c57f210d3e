#pragma once
/// @file process.hpp
/// @brief Starting processes in their own group, reaping them, and making
/// sure none of them outlives the grader.
///
/// The grader is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): every
/// process a server leaves behind (double fork, setsid) is reparented to
/// the grader, so "every descendant of the grader" is "everything the
/// server started". Functions here may be called from any thread; the
/// record of reaped children is shared and locked.

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "deadline.hpp"

namespace csd::grade {

/// Once, first thing in main, before any thread starts: becomes a child
/// subreaper, raises the RLIMIT_NOFILE soft limit to the hard limit,
/// ignores SIGPIPE, and starts a thread that on SIGINT, SIGTERM or SIGHUP
/// kills every descendant and exits with status 2. Also makes
/// std::terminate() kill every descendant first.
void init_process_control();

/// Starts @p argv (argv[0] is the program path) in a new process group of
/// its own, with stdin /dev/null, stdout @p out_fd and stderr @p err_fd
/// (-1: /dev/null), every other descriptor closed, an empty signal mask and
/// every signal at its default disposition. Returns the pid. Throws
/// std::system_error when the program cannot be started.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd);

/// Same as spawn() with stdin @p in_fd (-1: /dev/null).
pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd);

/// Starts the graded program @p argv as spawn() does, but confined
/// (sandbox.hpp): in a session of its own (setsid), with the limits of
/// sandbox_limits(), and, when configure_sandbox() found it possible, in a
/// PID namespace whose PID 1 is a small init of the grader (the program is
/// its child and the init reaps whatever is orphaned in the namespace).
/// Returns the program's pid as the grader sees it (its host pid: /proc,
/// kill() and strace work on it); child_status(), wait_child() and
/// kill_tree() work on it as on a child of the grader. The caller must be a
/// child subreaper (init_process_control()): the init is reparented to it.
/// Throws std::system_error when the program cannot be started. With
/// @p open_files, its RLIMIT_NOFILE is that (sandbox_limits()). With
/// @p ignored_signal (not 0), that one signal starts ignored (SIG_IGN
/// survives exec), as a parent that ignores it would leave it. The limits
/// are those of @p limits_path's program (default: argv[0]; a run under a
/// tracer names the traced program, so a sanitizer build keeps its room).
pid_t spawn_graded(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
                   std::optional<rlim_t> open_files = std::nullopt, int ignored_signal = 0,
                   const std::string& limits_path = {});

/// The processes a program left behind when it ended, as the init of its
/// PID namespace (spawn_graded()) found them: children it never reaped
/// become the init's when it ends.
struct ProcessOrphans {
    /// Processes the init reaped before the program's own status came, or
    /// at that moment (ended children the program never waited for).
    int reaped = 0;
    /// True when children of the program still ran when it ended.
    bool running = false;
};

/// For program @p pid started by spawn_graded() in a PID namespace, once
/// it ended: the processes it left to the namespace's init; nullopt while
/// it runs, or without a namespace. No tracer involved.
[[nodiscard]] std::optional<ProcessOrphans> orphans_at_exit(pid_t pid);

/// The wait status of child @p pid once it ended (reaping it if needed),
/// nullopt while it runs. -1 when it ended but its status is unknown.
[[nodiscard]] std::optional<int> child_status(pid_t pid);

/// Waits (polling every few ms) until child @p pid ended or @p deadline;
/// returns its status as child_status() does.
std::optional<int> wait_child(pid_t pid, Deadline deadline);

/// Reaps every child that has ended (waitpid(-1, WNOHANG)); statuses are
/// kept for child_status().
void reap_children();

/// Sends SIGTERM to process group @p root and to every live descendant of
/// @p root, waits up to @p grace, then SIGKILLs whatever is left (again
/// and again, bounded) and reaps. When @p root runs in a PID namespace of
/// its own, its init is killed too (which ends the namespace). For a client
/// or program run, not for the server.
void kill_tree(pid_t root, std::chrono::milliseconds grace);

/// Same as kill_tree() for every descendant of the grader: used to stop
/// the server, which may have escaped its process group.
void kill_all_descendants(std::chrono::milliseconds grace);

/// Live (not zombie) descendants of the grader, for tests and checks; the
/// inits of PID namespaces (spawn_graded()) are the grader's own and left out.
[[nodiscard]] std::vector<pid_t> live_descendants_of_grader();

/// "exited with status 1", "killed by signal 13 (SIGPIPE)". Pure.
[[nodiscard]] std::string describe_wait_status(int status);

/// "SIGPIPE" for 13, "signal 99" for unknown numbers. Pure.
[[nodiscard]] std::string signal_name(int sig);

}  // namespace csd::grade
