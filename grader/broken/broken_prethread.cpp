// A prethreaded lab server (-n threads fed by a queue from the main thread)
// that is correct except for the one bug its name says (broken-BUG, see
// broken_bug.hpp). grader/broken/CMakeLists.txt links broken-<bug> to this
// one program for each bug and checks that csd-grade fails exactly the check that bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: pool-spawns prethread architecture control pipeline
// test: spin-queue prethread idle-cpu control pipeline
// test: sleep-queue prethread idle-cpu control pipeline
// test: pool-no-wakeup prethread sigterm control pipeline
//   Connections handed to each pool thread in turn: one stalled client is no
//   problem (concurrency passes), a new client behind one of N-1 is.
// test: queue-per-thread prethread stalled control concurrency
//   Every mode is the queue: -m lock's acceptor does not serve what it accepts.
// test: queue-only prethread modes control pipeline
//   The pool's size is -n, not the number the grader happens to use.
// test: pool-of-8 prethread architecture control pipeline
//   A pool that stops at 32 threads (the seventh red-team: full marks).
// test: thread-pool-capped-32 prethread architecture control pipeline
//   Every client the acceptor can take sits in the server's memory.
// test: unbounded-queue prethread stalled control pipeline
//   Each pool thread hands up to 8 connections at a time to helper threads
//   of its own: the queue stays bounded and the acceptor accepts no more
//   than before, but -n threads serve 8n clients at once (the fourth
//   red-team of issue 20, as a worker that multiplexes 16: full marks).
// test: pool-serves-8 prethread stalled control pipeline
//   -m lock: a pool thread tries the mutex and sleeps 10 ms when it is taken.
// test: lock-try-sleep prethread modes control pipeline
//   -m lock: a spin lock, sched_yield() while it is taken: no voluntary
//   switch at all (the fourth red-team of issue 20: full marks).
// test: lock-spins prethread modes control pipeline
//   -m lock: the accept lock held while serving (red-team, issue 20: full marks).
// test: lock-held-serving prethread modes control pipeline
//   Exits at the stop with the pool still running (red-team, issue 20).
// test: pool-exits-unjoined prethread sigterm control pipeline
//   -m nolock threads that wait on the listener alone (red-team, issue 20).
// test: nolock-blind prethread sigterm control pipeline
//   -m queue never closes a connection it served (the -m nolock default of
//   fd-leak closes them): the mode's own path leaks (issue 20: full marks).
// test: queue-leaks prethread modes control pipeline
//   A full queue waited out by sleeps (the sixth red-team of issue 20:
//   full marks).
// test: full-queue-sleeps prethread stalled control pipeline
//   The same with a condition variable's timed wait (the seventh red-team:
//   full marks, a clock wait's deadline was not read).
// test: full-queue-timed-wait prethread stalled control pipeline
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

// The bugs, each with the check that must catch it:
//   pool-spawns     a pool of -n threads, but each connection gets a new
//                   thread of its own anyway                              -> architecture
//   spin-queue      no condition variable: idle pool threads poll the
//                   queue in a loop                                       -> idle-cpu
//   sleep-queue     no condition variable: idle pool threads look at the
//                   queue every 10 ms (little CPU, a wakeup each time)   -> idle-cpu
//   pool-no-wakeup  on a stop nobody wakes the idle pool threads, and the
//                   main thread joins them forever                        -> sigterm
//   queue-per-thread  a queue per pool thread, filled in turn by the main
//                   thread: a new client may wait behind a stalled one
//                   while another thread is free                          -> stalled
//   pool-of-8       a pool of 8 threads whatever -n says (the grader's -n
//                   is 8)                                                  -> architecture
//   queue-only       -m lock and -m nolock run the queue of -m queue: a
//                   pool with one of its three modes written              -> modes
//   unbounded-queue  the queue has no bound: with every pool thread busy,
//                   the acceptor takes every client that comes            -> stalled
//   lock-held-serving  -m lock: the accept mutex held while the thread
//                   serves what it accepted: one client at a time          -> modes
//   pool-exits-unjoined  at the stop, _exit(0) with the pool threads still
//                   waiting: nobody told them, nobody joined them         -> sigterm
//   nolock-blind     -m nolock: the threads wait on the listener alone, and
//                   at the stop main _exit(0)s without them           -> sigterm
//   thread-pool-capped-32  a pool that follows -n up to 32 threads and stops there
//                                                                       -> architecture
//   pool-serves-8    each pool thread passes what it pops to a helper thread
//                   of its own while fewer than 8 of them run: the pool
//                   bounds nothing                                      -> stalled
//   lock-try-sleep   -m lock: a thread that finds the mutex taken sleeps
//                   10 ms and tries again (no CPU to speak of, a wakeup
//                   each time)                                           -> modes
//   lock-spins       -m lock: a thread that finds the mutex taken yields
//                   and tries again at once: idle, the waiting threads
//                   use whole CPUs and never block                      -> modes
//   queue-leaks      -m queue: a pool thread shuts down each connection it
//                   served and never closes it (fd-leak runs -m nolock)  -> modes
//   full-queue-sleeps  the queue full, the acceptor sleeps 20 ms and looks
//                   again instead of waiting for room                   -> stalled
//   full-queue-timed-wait  the queue full, the acceptor waits for room 5 ms at
//                   a time (wait_for) and looks again                   -> stalled

/// The queue between the main thread and the pool, bounded unless the bug
/// is unbounded-queue; any thread.
class Queue {
  public:
    void push(csd::Fd fd) {
        {
            std::unique_lock lock(mutex_);
            if (bug == "full-queue-sleeps") {
                // The bug: no wait for room, a look every 20 ms.
                while (!closed_ && queue_.size() >= bound) {
                    lock.unlock();
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    lock.lock();
                }
            } else if (bug == "full-queue-timed-wait") {
                // The bug: a timed wait, looked at again every 5 ms.
                while (!closed_ && queue_.size() >= bound) {
                    (void)room_.wait_for(lock, std::chrono::milliseconds(5));
                }
            } else if (bug != "unbounded-queue") {
                room_.wait(lock, [this] { return closed_ || queue_.size() < bound; });
            }
            if (closed_) return;
            queue_.push_back(std::move(fd));
        }
        ready_.notify_one();
    }

    /// std::nullopt once closed and empty.
    std::optional<csd::Fd> pop() {
        std::unique_lock lock(mutex_);
        if (bug == "spin-queue" || bug == "sleep-queue") {
            while (!closed_ && queue_.empty()) {
                lock.unlock();
                if (bug == "sleep-queue") {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                } else {
                    std::this_thread::yield();
                }
                lock.lock();
            }
        } else {
            ready_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        }
        if (queue_.empty()) return std::nullopt;
        csd::Fd fd = std::move(queue_.front());
        queue_.pop_front();
        room_.notify_one();
        return fd;
    }

    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        if (bug != "pool-no-wakeup") ready_.notify_all();
        room_.notify_all();
    }

  private:
    static constexpr std::size_t bound = 32;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::condition_variable room_;
    std::deque<csd::Fd> queue_;
    bool closed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "pool-spawns spin-queue sleep-queue pool-no-wakeup "
        "queue-per-thread queue-only pool-of-8 thread-pool-capped-32 unbounded-queue pool-serves-8 "
        "lock-try-sleep lock-spins lock-held-serving pool-exits-unjoined "
        "nolock-blind queue-leaks full-queue-sleeps full-queue-timed-wait");
    csd::ServerOptions opts = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{.workers = true,
                         .flags = {csd::LabFlag{.letter = 'm',
                                                .help = "how the pool gets its connections",
                                                .value_name = "MODE",
                                                .choices = {"queue", "lock", "nolock"},
                                                .default_value = "queue"}}});
    if (bug == "pool-of-8") opts.workers = 8;  // whatever -n says
    if (bug == "thread-pool-capped-32") opts.workers = std::min(opts.workers, 32);
    const std::string mode = bug == "queue-only" ? "queue" : opts.value('m');
    csd::route_signals({SIGTERM, SIGINT});
    csd::Fd listener = csd::listen_tcp(opts.host, opts.port, {.nonblocking = mode != "queue"});
    csd::announce_listening(opts.host, opts.port);
    if (mode != "queue") {
        // lock: one thread at a time waits on the listener and accepts, then
        // serves what it accepted; nolock: every thread waits and accepts.
        std::mutex accept_mutex;
        std::vector<std::jthread> pool;
        for (int i = 0; i < opts.workers; ++i) {
            pool.emplace_back([&] {
                while (!csd::stop_requested()) {
                    std::unique_lock lock(accept_mutex, std::defer_lock);
                    if (mode == "lock" && bug == "lock-try-sleep") {
                        while (!lock.try_lock() && !csd::stop_requested()) {
                            std::this_thread::sleep_for(std::chrono::milliseconds(10));
                        }
                    } else if (mode == "lock" && bug == "lock-spins") {
                        while (!lock.try_lock() && !csd::stop_requested())
                            std::this_thread::yield();
                    } else if (mode == "lock") {
                        lock.lock();
                    }
                    if (csd::stop_requested()) break;
                    if (bug == "nolock-blind" && mode == "nolock") {
                        // Waits on the listener alone: never sees the stop.
                        pollfd p{listener.get(), POLLIN, 0};
                        (void)::poll(&p, 1, -1);
                    } else if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) {
                        continue;
                    }
                    csd::Fd fd = csd::accept_connection(listener.get()).connection;
                    if (lock.owns_lock() && bug != "lock-held-serving") lock.unlock();
                    if (fd) (void)csd::serve_connection(fd.get());
                }
            });
        }
        if (bug == "nolock-blind" && mode == "nolock") {
            while (!csd::stop_requested()) (void)csd::wait_for_stop(std::chrono::hours(1));
            ::_exit(0);  // the pool never told, never joined
        }
        return 0;
    }
    // One queue for the whole pool; queue-per-thread: one per pool thread.
    const std::size_t queue_count =
        bug == "queue-per-thread" ? static_cast<std::size_t>(opts.workers) : 1;
    std::vector<Queue> queues(queue_count);
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < opts.workers; ++i) {
            Queue& queue = queues[static_cast<std::size_t>(i) % queue_count];
            pool.emplace_back([&queue] {
                std::vector<std::jthread> helpers;  // pool-serves-8 only
                std::atomic<int> running{0};
                while (std::optional<csd::Fd> fd = queue.pop()) {
                    if (bug == "pool-serves-8" && running.load() < 8) {
                        running.fetch_add(1);
                        helpers.emplace_back([c = std::move(*fd), &running] {
                            (void)csd::serve_connection(c.get());
                            running.fetch_sub(1);
                        });
                        continue;
                    }
                    (void)csd::serve_connection(fd->get());
                    if (bug == "queue-leaks") (void)::shutdown(fd->release(), SHUT_RDWR);
                }
            });
        }
        std::vector<std::jthread> extra;  // pool-spawns only
        std::size_t next = 0;             // the queue of the next connection
        while (!csd::stop_requested()) {
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Fd fd = csd::accept_connection(listener.get()).connection;
            if (!fd) continue;
            if (bug == "pool-spawns") {
                extra.emplace_back([c = std::move(fd)] { (void)csd::serve_connection(c.get()); });
            } else {
                queues[next].push(std::move(fd));
                next = (next + 1) % queue_count;
            }
        }
        if (bug == "pool-exits-unjoined") ::_exit(0);
        for (Queue& queue : queues) queue.close();
    }
    return 0;
}
