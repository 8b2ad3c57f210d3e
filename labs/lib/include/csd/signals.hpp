#pragma once
/// @file signals.hpp
/// @brief Signals turned into events a server can wait for, and the stop
/// request that reaches every waiter.
///
/// route_signals() installs, for each given signal, a handler that writes
/// the signal number into a self-pipe (signal_fd()); SIGTERM and SIGINT
/// also request a stop (request_stop()). A stop sets a lock-free atomic
/// flag (stop_requested()) and makes the stop descriptor (stop_fd())
/// readable for good: it is never drained, so every thread, every event
/// loop and every blocking serve_connection() that waits on it sees the
/// stop, whichever wakes first. A loop that waits on stop_fd() or
/// signal_fd() together with its sockets cannot miss a signal that came
/// before it blocked; a loop that checks stop_requested() and then blocks
/// in read() can (the signal may come in between: then the read waits for
/// the client). Handlers are installed without SA_RESTART, so a blocking
/// call interrupted by a routed signal returns EINTR.
///
/// Built with ThreadSanitizer, which delays asynchronous handlers to points
/// of its own (and can hold one for as long as its thread sleeps on a
/// condition variable), route_signals() instead blocks the routed signals
/// and starts a thread that takes them with sigwaitinfo() and does what the
/// handler does: the same pipe, flag and stop descriptor, but no EINTR.

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <vector>

namespace csd {

/// Routes each of @p signals to the self-pipe (created on first use,
/// CLOEXEC and non-blocking); SIGTERM and SIGINT also call request_stop().
/// Call from the main thread before starting other threads (under
/// ThreadSanitizer: threads started before it would not block the signals).
/// Throws std::logic_error when a signal is routed twice or more than 16
/// signals would be routed (nothing is installed then), std::system_error
/// when a call fails.
void route_signals(std::initializer_list<int> signals);

/// Read end of the self-pipe: readable once a routed signal arrived, until
/// drain_signals() empties it. -1 before route_signals().
[[nodiscard]] int signal_fd() noexcept;

/// Reads everything in the self-pipe; returns the signals seen, in order
/// (duplicates possible, coalesced kernel deliveries are not). Never
/// blocks.
std::vector<int> drain_signals();

/// The stop descriptor (an eventfd, CLOEXEC and non-blocking): readable
/// from the moment a stop is requested, for good. Never read it: watch it
/// for POLLIN (poll, select, epoll). Created by route_signals() or by the
/// first call of stop_fd(); call it first from the main thread. A child
/// made with plain fork() shares it with its parent (a stop requested in
/// one is seen by both): fork_child() gives the child its own.
[[nodiscard]] int stop_fd();

/// Requests a stop: sets the flag of stop_requested() and makes stop_fd()
/// readable. Async-signal-safe; callable from any thread, a handler or a
/// test.
void request_stop() noexcept;

/// True once a stop was requested (SIGTERM, SIGINT or request_stop()).
/// A lock-free atomic load: async-signal-safe, any thread.
[[nodiscard]] bool stop_requested() noexcept;

/// Sleeps until a stop is requested or @p timeout has passed, whichever
/// comes first (poll on stop_fd()); returns stop_requested(). For a pause,
/// e.g. not accepting for a while when out of descriptors, that does not
/// delay a stop.
bool wait_for_stop(std::chrono::milliseconds timeout);

/// Sets the disposition of SIGPIPE to SIG_IGN: a write to a vanished
/// peer then fails with EPIPE instead of killing the process.
void ignore_sigpipe();

/// fork(2) for servers that route signals: the child starts with the
/// routed signals back at SIG_DFL, without the parent's self-pipe and stop
/// descriptor, and with no stop requested.
///
/// The routed signals are blocked (pthread_sigmask) across fork(), so no
/// handler can run in the child before its reset: a SIGTERM sent to the
/// child in that window stays pending and is delivered, with its default
/// action (the child dies), when the child unblocks it after the reset.
/// The parent's signal mask is restored before returning. Returns like
/// fork(2): the child's pid in the parent, 0 in the child, -1 with errno
/// set when no child was made. Call from a thread that may fork.
///
/// In csd::lab_process (labs/lib/src/process.cpp), not csd::lab_base: it is
/// the fork lab's lesson, so the fork lab cannot link it.
pid_t fork_child() noexcept;

/// In a child made with plain fork(): puts the routed signals back to
/// SIG_DFL, closes the inherited self-pipe and stop descriptor, and clears
/// the stop flag. Racy: a signal that came before this call ran the
/// parent's handler in the child, and is forgotten. Prefer fork_child(),
/// which calls this with the routed signals blocked.
void reset_signals_in_child() noexcept;

/// Outcome of wait_readable().
enum class Wakeup {
    readable,  ///< The descriptor is readable (for a listener: a connection waits).
    signal,    ///< A routed signal arrived (the self-pipe was drained), or a stop was
               ///< requested.
};

/// Blocks until @p fd is readable, a routed signal arrives or a stop is
/// requested (poll on fd, the self-pipe and the stop descriptor). For
/// blocking servers that wait in accept().
Wakeup wait_readable(int fd);

}  // namespace csd
