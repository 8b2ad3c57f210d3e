// Lab "thread": a TCP server that starts one thread per client.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(), as in the fork lab. This lab is about threads:
// the handout, labs/thread/handout.md, explains every step; the TODOs below
// name them ("handout step N").
//
// Given: the command line, the listening socket, signals routed to a
// self-pipe and the stop descriptor, the accept loop, and the end of the
// server (every thread is joined when `workers` is cleared).
// Yours: a thread per client, how a thread says it has ended and the main
// thread joins it, and the cap on threads.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <exception>
#include <iostream>
#include <list>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "csd/lab.hpp"

namespace {

/// Most connection threads alive at once. With that many, the server stops
/// accepting until one ends: a flood of clients waits in the kernel's
/// accept queue instead of exhausting the process's memory and threads.
constexpr std::size_t max_threads = 256;

/// One connection thread. The main thread creates, joins and destroys it;
/// the connection thread itself only sets `done`, as its very last step.
struct Worker {
    std::atomic<bool> done{false};  ///< Set (release) when the thread is about to end.
    std::jthread thread;            ///< Joined by its destructor.
};

/// The connection threads not joined yet. Only the main thread uses it.
using Workers = std::list<std::unique_ptr<Worker>>;

/// Serves @p client on the calling thread, then marks @p worker done.
/// Runs on a connection thread: it touches only its own client and its
/// own Worker, nothing shared with other connections.
void serve_client(csd::Fd client, Worker& worker) {
    try {
        // Returns `stopped` promptly after SIGTERM even for an idle client:
        // it waits on the socket and csd::stop_fd() together.
        (void)csd::serve_connection(client.get());
    } catch (const std::exception& e) {
        std::cerr << "server thread: " << e.what() << '\n';
    }
    // TODO(handout step 3): the thread's very last steps: close the
    // connection, then tell the main thread this Worker is done (its `done`
    // flag, with a release store: whatever the thread did before is seen by
    // the main thread that reads the flag with an acquire load).
    (void)worker;
}

/// Serves @p client on a new thread, remembered in @p workers.
void start_thread(csd::Fd client, Workers& workers) {
    // TODO(handout step 2): make a Worker, start its std::jthread running
    // serve_client() with the client (moved in) and the Worker, and keep the
    // Worker in `workers`. If the thread cannot be created
    // (std::system_error), print a message and drop the client.
    (void)workers;
    Worker here;  // served on the main thread: one client at a time, as before
    serve_client(std::move(client), here);
}

/// Joins and forgets every connection thread that has ended.
void join_finished(Workers& workers) {
    // TODO(handout step 3): erase from `workers` each Worker whose `done` is
    // set (an acquire load): the std::jthread's destructor joins it, at once
    // since the thread is at its end.
    (void)workers;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // SIGTERM and SIGINT set csd::stop_requested() and make
        // csd::stop_fd() readable for good: every thread waiting on it wakes.
        csd::route_signals({SIGTERM, SIGINT});
        csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);

        Workers workers;
        while (!csd::stop_requested()) {
            join_finished(workers);
            // TODO(handout step 4): the cap on threads: with max_threads
            // alive, accept nobody (the clients wait in the kernel's accept
            // queue) and look again a little later, or at once on a stop;
            // never spin.
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Accepted accepted = csd::accept_connection(listener.get());
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
                continue;
            }
            if (!accepted.connection) continue;  // EINTR, or a client that already left
            start_thread(std::move(accepted.connection), workers);
        }
        // SIGTERM or SIGINT: no new clients, then every thread ends and is
        // joined (handout step 5).
        listener.reset();
        // Each serve_connection() sees csd::stop_fd() and returns; each
        // std::jthread destructor joins its thread.
        workers.clear();
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
