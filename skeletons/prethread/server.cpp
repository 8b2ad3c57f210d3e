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
        (void)client;
        return false;
    }

    /// Waits for a connection and takes it; std::nullopt once the queue is
    /// closed and empty: the calling thread should end.
    std::optional<csd::Fd> pop() {
        // TODO(handout step 3): lock `mutex_`; wait on `not_empty_` until
        // there is a connection or the queue is closed; take the front one
        // (or return std::nullopt when closed and empty); notify one waiter
        // of `not_full_`.
        return std::nullopt;
    }

    /// Closes the queue: every waiting and future push() and pop() returns
    /// at once (pop() still hands out what is queued).
    void close() {
        // TODO(handout step 4): set `closed_` under the mutex, then wake
        // every waiter of both condition variables.
    }

  private:
    // TODO(handout step 2): the queue's state: the connections waiting, in
    // the order they came (`queue_`); a flag that says it is closed
    // (`closed_`); the mutex that guards both (`mutex_`); one condition
    // variable for each thing a thread waits for (`not_empty_`, the pool
    // threads; `not_full_`, the acceptor); and the bound: how many accepted
    // connections may wait before the acceptor stops accepting.
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
    (void)queue;
}

/// Until there is a pool: the calling thread accepts and serves each
/// client itself, one at a time, until a stop.
void serve_one_at_a_time(const csd::Fd& listener) {
    while (!csd::stop_requested()) {
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        auto a = csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
        if (a.connection) serve_client(a.connection);
    }
}

/// -m queue: the main thread accepts and pushes; the pool pops and serves.
void run_queue_mode(const csd::Fd& listener, int threads) {
    // TODO(handout step 5): start the pool (threads pool threads running
    // queue_worker() on one queue), then, on this thread and until a stop:
    // wait for a client or the stop (never block where a stop cannot reach
    // you: the listener is non-blocking), accept it and push it; out of
    // descriptors, do not spin. At the stop, close the queue (step 4), so
    // that the idle pool threads end, and let the pool join.
    (void)threads;
    (void)queue_worker;             // yours to start, `threads` times
    serve_one_at_a_time(listener);  // until then: no pool
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
    (void)listener;
    (void)accept_lock;
}

/// -m lock and -m nolock: the pool accepts; the main thread waits for the stop.
void run_accept_mode(const csd::Fd& listener, int threads, bool with_lock) {
    // TODO(handout step 6): start the pool (threads pool threads running
    // accepting_worker(), sharing one mutex as their accept lock with -m
    // lock, none with -m nolock); this thread only waits for the stop, then
    // the pool joins (each pool thread sees the stop and ends).
    (void)threads;
    (void)with_lock;
    (void)accepting_worker;         // yours to start, `threads` times
    serve_one_at_a_time(listener);  // until then: no pool
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
