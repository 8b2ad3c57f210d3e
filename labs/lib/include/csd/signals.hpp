#pragma once
/// @file signals.hpp
/// @brief Signals turned into events a server loop can wait for.
///
/// route_signals() installs, for each given signal, a handler that
/// writes the signal number into a self-pipe (and, for SIGTERM and
/// SIGINT, records that a stop was asked). A server adds signal_fd() to
/// what it waits on (poll, select, epoll), so a signal can never slip in
/// between "check the flag" and "block": the pipe stays readable until
/// drained. Handlers are installed without SA_RESTART, so a blocking call
/// also returns EINTR.

#include <initializer_list>
#include <vector>

namespace csd {

/// Routes each of @p signals to the self-pipe (created on first use,
/// CLOEXEC and non-blocking). Call from the main thread before starting
/// other threads. Throws std::system_error when a call fails.
void route_signals(std::initializer_list<int> signals);

/// Read end of the self-pipe: readable once a routed signal arrived.
[[nodiscard]] int signal_fd() noexcept;

/// Reads everything in the self-pipe; returns the signals seen, in order
/// (duplicates possible, coalesced kernel deliveries are not). Never
/// blocks.
std::vector<int> drain_signals();

/// True once SIGTERM or SIGINT arrived (async-signal-safe flag).
[[nodiscard]] bool stop_requested() noexcept;

/// Sets the disposition of SIGPIPE to SIG_IGN: a write to a vanished
/// peer then fails with EPIPE instead of killing the process.
void ignore_sigpipe();

/// In a child after fork(): puts the routed signals back to SIG_DFL and
/// closes the inherited self-pipe, so the child is killed by SIGTERM and
/// does not share the parent's wakeups.
void reset_signals_in_child() noexcept;

/// Outcome of wait_readable().
enum class Wakeup {
    readable,  ///< The descriptor is readable (for a listener: a connection waits).
    signal,    ///< A routed signal arrived (the self-pipe was drained).
};

/// Blocks until @p fd is readable or a routed signal arrives (poll on
/// both descriptors). For blocking servers that wait in accept().
Wakeup wait_readable(int fd);

}  // namespace csd
