// Lab "prethread": a TCP server with a pool of -n threads created at start.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(). This lab is about a fixed pool of threads and how
// connections reach them: the handout, labs/prethread/handout.md, explains
// every step; the TODOs below name them ("handout step N").
//
// Two ways, chosen by -m (Stevens, UNP sections 30.11 and 30.12):
//   -m queue   (default) the main thread accepts and hands each connection
//              to the pool through a bounded queue (a mutex and two
//              condition variables);
//   -m lock    each pool thread calls accept() itself, one at a time (a mutex);
//   -m nolock  each pool thread calls accept() itself, all at once.
//
// Given: the command line, the listening socket, signals and the stop
// descriptor, serving one client (serve_client()).
// Yours: the queue, the pool and the acceptor of -m queue, and the
// accepting pool threads of -m lock and -m nolock.

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <deque>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "csd/lab.hpp"

namespace {

/// Connections handed from the main thread (push) to the pool threads
/// (pop): a bounded queue, safe to use from any thread. Owns the accepted
/// connections that no pool thread has taken yet.
class ConnectionQueue {
  public:
    /// Waits while the queue is full, then adds @p client. Returns false
    /// (and drops the client) once the queue is closed.
    bool push(csd::Fd client) {
        // TODO(handout step 2): lock `mutex_`; wait on `not_full_` until
        // there is room or the queue is closed; add the client; notify one
        // waiter of `not_empty_`.
        // SKELETON: (void)client;
        // SKELETON: return false;
        // BEGIN SOLUTION
        {
            std::unique_lock lock(mutex_);
            not_full_.wait(lock, [this] { return closed_ || queue_.size() < capacity; });
            if (closed_) return false;
            queue_.push_back(std::move(client));
        }
        not_empty_.notify_one();
        return true;
        // END SOLUTION
    }

    /// Waits for a connection and takes it; std::nullopt once the queue is
    /// closed and empty: the calling thread should end.
    std::optional<csd::Fd> pop() {
        // TODO(handout step 3): lock `mutex_`; wait on `not_empty_` until
        // there is a connection or the queue is closed; take the front one
        // (or return std::nullopt when closed and empty); notify one waiter
        // of `not_full_`.
        // SKELETON: return std::nullopt;
        // BEGIN SOLUTION
        std::optional<csd::Fd> client;
        {
            std::unique_lock lock(mutex_);
            not_empty_.wait(lock, [this] { return closed_ || !queue_.empty(); });
            if (queue_.empty()) return std::nullopt;  // closed
            client = std::move(queue_.front());
            queue_.pop_front();
        }
        not_full_.notify_one();
        return client;
        // END SOLUTION
    }

    /// Closes the queue: every waiting and future push() and pop() returns
    /// at once (pop() still hands out what is queued).
    void close() {
        // TODO(handout step 4): set `closed_` under the mutex, then wake
        // every waiter of both condition variables.
        // BEGIN SOLUTION
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        not_empty_.notify_all();
        not_full_.notify_all();
        // END SOLUTION
    }

  private:
    // TODO(handout step 2): the queue's state: the connections waiting, in
    // the order they came (`queue_`); a flag that says it is closed
    // (`closed_`); the mutex that guards both (`mutex_`); one condition
    // variable for each thing a thread waits for (`not_empty_`, the pool
    // threads; `not_full_`, the acceptor); and the bound: how many accepted
    // connections may wait before the acceptor stops accepting.
    // BEGIN SOLUTION
    /// Most accepted connections waiting for a pool thread. When the queue is
    /// full the main thread stops accepting until a thread takes one.
    static constexpr std::size_t capacity = 32;

    std::mutex mutex_;                   ///< Guards queue_ and closed_.
    std::condition_variable not_empty_;  ///< A connection was added, or closed.
    std::condition_variable not_full_;   ///< A connection was taken, or closed.
    std::deque<csd::Fd> queue_;          ///< Accepted, not yet taken.
    bool closed_ = false;                ///< No more connections: the pool ends.
    // END SOLUTION
};

/// Serves @p client on the calling thread; errors end this client only.
void serve_client(const csd::Fd& client) {
    try {
        (void)csd::serve_connection(client.get());  // returns promptly on a stop
    } catch (const std::exception& e) {
        std::cerr << "server thread: " << e.what() << '\n';
    }
}

/// A pool thread of -m queue: serves connection after connection from
/// @p queue until it is closed.
void queue_worker(ConnectionQueue& queue) {
    // TODO(handout step 3): pop() and serve until pop() returns std::nullopt.
    // SKELETON: (void)queue;
    // BEGIN SOLUTION
    while (std::optional<csd::Fd> client = queue.pop()) serve_client(*client);
    // END SOLUTION
}

// SKELETON: /// Until there is a pool: the calling thread accepts and serves each
// SKELETON: /// client itself, one at a time, until a stop.
// SKELETON: void serve_one_at_a_time(const csd::Fd& listener) {
// SKELETON:     while (!csd::stop_requested()) {
// SKELETON:         if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
// SKELETON:         auto a = csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
// SKELETON:         if (a.connection) serve_client(a.connection);
// SKELETON:     }
// SKELETON: }

/// -m queue: the main thread accepts and pushes; the pool pops and serves.
void run_queue_mode(const csd::Fd& listener, int threads) {
    // TODO(handout step 5): start the pool (threads pool threads running
    // queue_worker() on one queue), then, on this thread and until a stop:
    // wait for a client or the stop (never block where a stop cannot reach
    // you: the listener is non-blocking), accept it and push it; out of
    // descriptors, do not spin. At the stop, close the queue (step 4), so
    // that the idle pool threads end, and let the pool join.
    // SKELETON: (void)threads;
    // SKELETON: (void)queue_worker;             // yours to start, `threads` times
    // SKELETON: serve_one_at_a_time(listener);  // until then: no pool
    // BEGIN SOLUTION
    ConnectionQueue queue;
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(queue_worker, std::ref(queue));
    while (!csd::stop_requested()) {
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        csd::Accepted accepted = csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
            continue;
        }
        if (!accepted.connection) continue;  // nothing after all (another waiter, a reset)
        // Blocks while the queue is full; the pool keeps taking, also after
        // a stop (each serve_connection() then returns at once).
        (void)queue.push(std::move(accepted.connection));
    }
    // Wake the idle pool threads; the jthreads join.
    queue.close();
    // END SOLUTION
}

/// A pool thread of -m lock and -m nolock: accepts and serves, until a stop.
/// With @p accept_lock, one thread at a time waits in poll() and accept().
void accepting_worker(const csd::Fd& listener, std::mutex* accept_lock) {
    // TODO(handout step 6): until a stop, wait for a client (or the stop),
    // accept it and serve it, on this thread. With an accept lock, hold it
    // around the wait and the accept only, never while serving. The
    // listener is non-blocking: another thread may have taken the client
    // this one woke for, then accept finds nothing, and the thread waits
    // again. Out of descriptors, do not spin.
    // SKELETON: (void)listener;
    // SKELETON: (void)accept_lock;
    // BEGIN SOLUTION
    while (!csd::stop_requested()) {
        csd::Accepted accepted;
        {
            std::unique_lock<std::mutex> lock;
            if (accept_lock != nullptr) lock = std::unique_lock(*accept_lock);
            // The listener is non-blocking: when another thread took the
            // connection this one woke for, accept says `nothing`, and the
            // thread goes back to waiting instead of blocking where a stop
            // cannot reach it.
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            accepted = csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
        }
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
            continue;
        }
        if (accepted.connection) serve_client(accepted.connection);
    }
    // END SOLUTION
}

/// -m lock and -m nolock: the pool accepts; the main thread waits for the stop.
void run_accept_mode(const csd::Fd& listener, int threads, bool with_lock) {
    // TODO(handout step 6): start the pool (threads pool threads running
    // accepting_worker(), sharing one mutex as their accept lock with -m
    // lock, none with -m nolock); this thread only waits for the stop, then
    // the pool joins (each pool thread sees the stop and ends).
    // SKELETON: (void)threads;
    // SKELETON: (void)with_lock;
    // SKELETON: (void)accepting_worker;         // yours to start, `threads` times
    // SKELETON: serve_one_at_a_time(listener);  // until then: no pool
    // BEGIN SOLUTION
    std::mutex accept_lock;
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back(accepting_worker, std::cref(listener),
                          with_lock ? &accept_lock : nullptr);
    }
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
    // END SOLUTION
}  // every pool thread sees the stop and ends; the jthreads join

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{.workers = true,
                         .flags = {csd::LabFlag{.letter = 'm',
                                                .help = "how connections reach the pool threads",
                                                .value_name = "MODE",
                                                .choices = {"queue", "lock", "nolock"},
                                                .default_value = "queue"}}});
    try {
        // SIGTERM and SIGINT set csd::stop_requested() and make
        // csd::stop_fd() readable for good: every thread waiting on it wakes.
        csd::route_signals({SIGTERM, SIGINT});
        csd::Fd listener = csd::listen_tcp(options.host, options.port, {.nonblocking = true});
        csd::announce_listening(options.host, options.port);
        const std::string mode = options.value('m');
        if (mode == "queue") {
            run_queue_mode(listener, options.workers);
        } else {
            run_accept_mode(listener, options.workers, mode == "lock");
        }
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
