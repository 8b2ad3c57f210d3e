#pragma once
/// @file launch.hpp
/// @brief Starting a lab server on a free loopback port: the port chosen,
/// the wait until the server is ready, and a new start on another port when
/// another process took the port between its choice and the server's bind.
///
/// One implementation for every program that starts lab servers: csd-grade
/// (grader/grade/server.cpp), the stop hammer (labs/lib/tests/stop_hammer.cpp)
/// and csd-bench (tools/bench/csd_bench). How a server is started, watched
/// and stopped differs from one to the other (the grader's sandbox and
/// output captures, csd-bench's log file): the caller says it with
/// ServerHooks, and start_on_free_port() does the rest.
///
/// The port is chosen by binding a socket to 127.0.0.1:0 and closing it, so
/// it is free at that moment only: another process (a client's ephemeral
/// port, another test's server) may take it before the server binds it. The
/// server then ends with "Address already in use" (or, when the other
/// process listens, the port accepts but not for the server): that attempt
/// is stopped and the server started again on another port.
///
/// Every descriptor it opens is close-on-exec; a failed system call throws
/// std::system_error whose what() starts with the call's name.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace csd::launch {

/// The caller's part of start_on_free_port(): how to start, watch and stop
/// the server of one attempt. Called from the thread that called
/// start_on_free_port() only, never at the same time.
struct ServerHooks {
    /// Required. Starts the server on 127.0.0.1:@p port and returns without
    /// waiting for it (start_on_free_port() waits). An exception it throws
    /// (the program cannot be started) goes through start_on_free_port().
    std::function<void(std::uint16_t port)> start;
    /// Required. True once the server of this attempt has ended. Polled
    /// while waiting: it must not block. It may reap the process (the
    /// caller keeps its status) or leave it for stop().
    std::function<bool()> ended;
    /// Optional. Asked once the server ended before it was ready: true when
    /// it ended because its port was in use (e.g. "Address already in use"
    /// on its stderr, said_address_in_use()); it is then started again on
    /// another port. Unset: an early end is never retried.
    std::function<bool()> port_in_use;
    /// Optional. True once the server on @p port is ready; polled every
    /// 10 ms or so, it must not block long. Unset: the port accepts a
    /// connection (port_accepts(), the contract's definition of ready, with
    /// LaunchOptions::probe_timeout).
    std::function<bool(std::uint16_t port)> ready;
    /// Optional. Asked once the server is ready: false when the socket
    /// listening on @p port belongs to another process (it took the port
    /// first, so the ready test saw it, not the server); the server is then
    /// started again on another port. Unset: the listener is the server's.
    std::function<bool(std::uint16_t port)> owns_port;
    /// Required. Ends what is left of an attempt whose port was taken
    /// (kills and reaps the server, drops its output), before the next
    /// start(). Not called for the last attempt: the caller finds it as it
    /// was, to report on it and stop it.
    std::function<void()> stop;
};

/// How long start_on_free_port() waits, and how often it starts again.
struct LaunchOptions {
    /// The longest wait for one attempt to be ready, from the return of
    /// ServerHooks::start. (Not scaled here: a caller with a timing scale
    /// passes the scaled time.)
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(10);
    /// No wait lasts beyond this point, whatever @ref timeout says (e.g. the
    /// end of the grader's check). Default: no such point.
    std::chrono::steady_clock::time_point not_after = std::chrono::steady_clock::time_point::max();
    /// New starts on another port after the first one, when the port was
    /// taken: at most 1 + max_retries attempts in all.
    int max_retries = 3;
    /// The longest wait for one connection of the default ready test
    /// (port_accepts()), before it tries again.
    std::chrono::steady_clock::duration probe_timeout = std::chrono::milliseconds(250);
};

/// How the last attempt of start_on_free_port() ended.
enum class LaunchStatus {
    ready,       ///< The server is ready (ServerHooks::ready) on LaunchResult::port.
    ended,       ///< The server ended before it was ready, not because of the port.
    timed_out,   ///< Not ready by the deadline; the server may still run.
    port_taken,  ///< The port was taken on every attempt (the last one as well).
};

/// What start_on_free_port() came to.
struct LaunchResult {
    LaunchStatus status = LaunchStatus::timed_out;  ///< How the last attempt ended.
    std::uint16_t port = 0;                         ///< The port of the last attempt.
    int port_retries = 0;  ///< Attempts started again because their port was taken.
    /// Seconds from the return of the last ServerHooks::start until the
    /// server was found ready (before ServerHooks::owns_port), ended, or
    /// the deadline passed.
    double seconds = 0;
};

/// Starts a server with @p hooks on a free loopback port and waits until
/// it is ready: picks a free port (free_loopback_port(), never one an
/// earlier attempt used), calls ServerHooks::start with it, then polls,
/// until the deadline of @p options, whether the server ended
/// (ServerHooks::ended) or is ready (ServerHooks::ready, then
/// ServerHooks::owns_port). When the port was taken (the server ended and
/// ServerHooks::port_in_use says so, or owns_port() says no) and retries
/// are left, it calls ServerHooks::stop and starts again on another port.
/// Throws std::invalid_argument when start, ended or stop is missing;
/// std::system_error when a system call fails; whatever the hooks throw.
[[nodiscard]] LaunchResult start_on_free_port(const ServerHooks& hooks,
                                              const LaunchOptions& options = {});

/// A loopback port nobody has bound right now: a socket bound to
/// 127.0.0.1:0, its port read with getsockname(), the socket closed.
/// Throws std::system_error ("socket", "bind", "getsockname").
[[nodiscard]] std::uint16_t free_loopback_port();

/// True when a TCP connection to 127.0.0.1:@p port completes within
/// @p timeout (the connection is then closed at once). False when it is
/// refused, fails or takes longer, and for a connection of the socket to
/// itself (a port of the ephemeral range nobody listens on). Throws
/// std::system_error when a socket cannot be made ("socket", "poll").
[[nodiscard]] bool port_accepts(std::uint16_t port, std::chrono::steady_clock::duration timeout);

/// True when /proc/net/tcp or /proc/net/tcp6 lists a socket listening on
/// @p port (any local address): ready without connecting to the server,
/// for servers outside the contract. Throws std::system_error when a table
/// cannot be read (a missing tcp6, without IPv6, counts as empty).
[[nodiscard]] bool port_listening(std::uint16_t port);

/// True when @p output says that a port was in use: it holds "Address
/// already in use" (strerror(EADDRINUSE), Python's OSError) or
/// "EADDRINUSE". For ServerHooks::port_in_use, on a server's stderr.
[[nodiscard]] bool said_address_in_use(std::string_view output);

}  // namespace csd::launch
