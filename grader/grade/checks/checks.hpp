#pragma once
/// @file checks.hpp
/// @brief Every check of the grader. Each returns when the server passed
/// and throws CheckFailed with what it saw otherwise. Each makes its own
/// traffic, so it can run alone (--check ID), and bounds every wait.
/// Main thread only.

#include <map>
#include <string>

#include "check.hpp"
#include "timing.hpp"

namespace csd::grade {

/// start: accepted within 5 s and printed `Listening on 127.0.0.1:PORT`.
void check_start(Context& ctx);
/// bytes: exact replies of several sizes, then EOF after a half-close.
void check_bytes(Context& ctx);
/// pipeline: several requests on one connection, sequential and pipelined; `\r\n`.
void check_pipeline(Context& ctx);
/// split: a request arriving in several TCP segments.
void check_split(Context& ctx);
/// malformed: bad requests close the connection without a reply; N max is accepted.
void check_malformed(Context& ctx);
/// reset: clients resetting mid-reply do not kill the server.
void check_reset(Context& ctx);
/// concurrency: a client with half a request does not block another.
void check_concurrency(Context& ctx);
/// load: csd-client with 5 children x 200 connections.
void check_load(Context& ctx);
/// zombies: no zombie children after 50 connections.
void check_zombies(Context& ctx);
/// fd-leak: the descriptor count of the server and all its descendants returns to its baseline.
void check_fd_leak(Context& ctx);
/// architecture: processes and threads as the lab requires.
void check_architecture(Context& ctx);
/// syscall: idle, the thread is blocked in the lab's multiplexing call.
void check_syscall(Context& ctx);
/// idle-cpu: no busy loop with idle clients.
void check_idle_cpu(Context& ctx);
/// slow-reader: a client that does not read does not block others.
void check_slow_reader(Context& ctx);
/// back-pressure: a client that never reads cannot make the server's memory grow.
void check_back_pressure(Context& ctx);
/// zero-copy: the served file's bytes leave by sendfile or splice, never by read and write.
void check_zero_copy(Context& ctx);
/// ring-io (uring): with strace attached while 31 clients are served, the
/// server makes no accept, read, recv, write, send or wait call on a socket
/// itself: all of them are ring requests.
void check_ring_io(Context& ctx);
/// ring-io: the calls per name in the strace text @p trace (lines of
/// `strace -f`), leaving out those on descriptors 0 to 2 (a log line).
[[nodiscard]] std::map<std::string, int> ring_io_socket_calls(const std::string& trace);
/// many: thousands of connections held at once.
void check_many(Context& ctx);
/// replace: a worker killed under load is replaced; nothing is lost afterwards.
void check_replace(Context& ctx);
/// stalled: with -n workers, n-1 stalled clients do not stop the n-th.
void check_stalled(Context& ctx);
/// cap: a flood of idle clients beyond lab().thread_cap keeps the thread
/// count at the cap; the clients beyond it are served once it frees up.
void check_cap(Context& ctx);
/// distribution: the per-worker lines printed at shutdown add up.
void check_distribution(Context& ctx);
/// spread (reactor): every loop's epoll set watches some of 10 x -n held connections,
/// and every loop's thread woke up to serve them.
void check_spread(Context& ctx);
/// stalled-loops (reactor): -n - 1 clients that never read a 64 MiB reply do not stop 2 x -n
/// clients after them, one after another, from being served.
void check_stalled_loops(Context& ctx);
/// lines (selfpipe): every stdin line is echoed, then `end of input` and status 0.
void check_lines(Context& ctx);
/// signals (selfpipe): 300 fresh runs, SIGUSR1 at a random moment, each answered in 100 ms.
void check_signals(Context& ctx);
/// race-window (selfpipe): SIGUSR1 inside the -w window is still answered.
void check_race_window(Context& ctx);
/// idle-wakeups (selfpipe): idle, the program does not wake up (no timeout polling).
void check_idle_wakeups(Context& ctx);
/// read-reset (sigpipe): the program's read after the reset reports ECONNRESET first.
void check_read_reset(Context& ctx);
/// no-sigpipe (sigpipe): writing after the reset does not kill it; it exits 0.
void check_no_sigpipe(Context& ctx);
/// epipe (sigpipe): exactly `read: ECONNRESET` then `write: EPIPE`.
void check_epipe(Context& ctx);
/// sigterm: SIGTERM ends the whole tree with status 0 within 2 s.
void check_sigterm(Context& ctx);
/// reply (rst): one request per connection, the exact reply, then the end of the connection.
void check_one_reply(Context& ctx);
/// rst (rst): after its reply the server resets the connection (ECONNRESET, not EOF).
void check_rst(Context& ctx);
/// time-wait (rst): no TIME_WAIT socket is left on the server's port.
void check_time_wait(Context& ctx);
/// framing (cork): each reply is the header line "N\n" then the N bytes; pipelining, half-close.
void check_framing(Context& ctx);
/// segments (cork): small replies arrive as one TCP segment each (TCP_INFO).
void check_segments(Context& ctx);
/// uncork (cork): small replies arrive in one segment, promptly (not after the cork timer).
void check_uncork(Context& ctx);

}  // namespace csd::grade
