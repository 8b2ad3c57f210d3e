#pragma once
/// @file models.hpp
/// @brief The architecture models of the pool, thread and descriptor-passing
/// labs (checks/pools.cpp), and the small helpers they share with
/// checks/architecture.cpp. Main thread only.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "check.hpp"
#include "deadline.hpp"
#include "timing.hpp"

namespace csd::grade {

/// Polls @p probe every 10 ms (scaled) until it returns a true value or
/// @p limit (scaled) passes; returns the last value.
template <typename Probe>
auto poll_until(std::chrono::milliseconds limit, Probe probe) {
    const Deadline deadline(limit);
    auto value = probe();
    while (!value && !deadline.expired()) {
        std::this_thread::sleep_for(scaled(std::chrono::milliseconds(10)));
        value = probe();
    }
    return value;
}

/// Threads a ThreadSanitizer build adds to process @p pid besides the
/// server's own: the sanitizer's background thread and, when the server
/// routes signals, the lab library's signal thread (named csd-signals).
/// 0 without ThreadSanitizer.
[[nodiscard]] int runtime_threads(pid_t pid);

/// The thread count of the server once it stopped changing (up to 1 s).
[[nodiscard]] int settled_threads(Context& ctx);

/// The thread ids of a pool of @p n threads plus the main thread (and a
/// sanitizer's own), given 2 s to appear; fails with @p hint, saying
/// @p when, when the server has another number of threads.
std::vector<pid_t> require_thread_pool(Context& ctx, int n, std::string_view when,
                                       const std::string& hint);

/// The largest pool other_pool_sizes() asks for in a lab with no most
/// (labs/labs.txt `workers-max`): far above any small constant a pool might
/// stop at (the seventh red-team's pools stopped at 32).
inline constexpr int large_pool_size = 100;

/// Four other pool sizes than the lab's usual -n, one below it and three
/// above: 3 (2 when the lab's is 3), the usual + 3, twice the usual + 5,
/// and the most -n allows (labs/labs.txt `workers-max`), else
/// large_pool_size. A pool that ignores -n fails the first or all; one
/// capped at the usual size, or at any constant below the largest, fails
/// the others.
[[nodiscard]] std::vector<int> other_pool_sizes(const Context& ctx);

/// Starts the server again with `-n @p size` instead of the lab's usual -n
/// (its other flags kept), so that a pool whose size does not follow -n
/// shows; fails when it does not start. The runner starts it again with
/// the usual flags for the next check.
void restart_with_pool_size(Context& ctx, int size);

/// prefork: a fixed pool of lab().workers processes below the server,
/// the same before and after load, each connection served by one of them.
/// The workers accept, nobody passes them connections: either each holds
/// the one listening socket, or (SO_REUSEPORT, seen as several sockets
/// listening on the port) each holds a listening socket of its own and the
/// parent none; then the connections are checked one after another, not
/// held open together (the kernel's hash may queue one behind another).
void check_process_pool(Context& ctx);

/// thread: one thread per open connection, back to the idle count after.
void check_thread_per_connection(Context& ctx);

/// prethread: lab().workers threads plus the main thread, the same threads
/// idle, under load and after.
void check_thread_pool(Context& ctx);

/// reactor: -n loops, each a thread with an epoll instance of its own (n
/// threads, or n + 1 with an acceptor); idle, every loop sleeps in
/// epoll_wait() without waking; every held connection is in exactly one
/// loop's interest list (checks/reactor.cpp).
void check_reactor_architecture(Context& ctx);
/// uring: the threads of process @p pid that are io_uring's own kernel
/// workers (named iou-wrk-N, or iou-sqp-N for a submission queue polling
/// thread; told apart by the kernel's PF_IO_WORKER flag in
/// /proc/PID/task/TID/stat, not by the name): they show in /proc/PID/task
/// but run no server code.
[[nodiscard]] int io_uring_kernel_threads(pid_t pid);

/// uring: fails, saying @p when, unless the server holds an io_uring
/// descriptor (anon_inode:[io_uring]) and no epoll one.
void require_ring_not_epoll(Context& ctx, std::string_view when);

/// fdpass: a pool of workers that do not hold the listening socket; the
/// parent accepts and keeps no connected socket once it handed it over.
void check_descriptor_passing(Context& ctx);

}  // namespace csd::grade
