// Lab "thread": a TCP server that starts one thread per client.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(), as in the fork lab. This lab is about threads:
// the handout, labs/thread/handout.md, explains every step; the TODOs below
// name them ("handout step N").
//
// Given: the command line, the listening socket, signals and the stop
// descriptor.
// Yours: what the main thread keeps of each connection thread, a thread
// per client, how a thread says it has ended and the main thread joins it,
// the main loop with its cap on threads, and the stop: every thread ended
// and joined.

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

// TODO(handout step 2): what the main thread keeps of each connection
// thread (a Worker: the thread, to join it, and the flag by which the
// thread says it has ended), and of all of them (Workers: the threads not
// joined yet, each Worker at an address that never moves while its thread
// runs, and cheap to erase from the middle).
// SKELETON: /// One connection thread: yours to design (handout step 2).
// SKELETON: struct Worker {};
// SKELETON: /// The connection threads not joined yet: yours to design (handout step 2).
// SKELETON: struct Workers {};
// BEGIN SOLUTION
/// One connection thread. The main thread creates, joins and destroys it;
/// the connection thread itself only sets `done`, as its very last step.
struct Worker {
    std::atomic<bool> done{false};  ///< Set (release) when the thread is about to end.
    std::jthread thread;            ///< Joined by its destructor.
};

/// The connection threads not joined yet, each Worker on the heap (its
/// address stays valid while the thread runs, however the list changes).
/// Only the main thread uses it.
using Workers = std::list<std::unique_ptr<Worker>>;
// END SOLUTION

/// The body of a connection thread: serves @p client, closes it, then marks
/// @p worker done. It touches only its own client and its own Worker,
/// nothing shared with other connections. csd::serve_connection() returns
/// `stopped` promptly after SIGTERM even for an idle client: it waits on
/// the socket and csd::stop_fd() together.
void connection_thread(csd::Fd client, Worker& worker) {
    // TODO(handout step 3): serve the client; an exception must not leave
    // the thread's function (std::terminate would end the whole server):
    // catch it here, print it, and go on to the end.
    // TODO(handout step 4): the thread's very last steps: close the
    // connection, then tell the main thread this Worker is done (a release
    // store: whatever the thread did before is seen by the main thread that
    // reads the flag with an acquire load).
    // SKELETON: (void)client;
    // SKELETON: (void)worker;
    // BEGIN SOLUTION
    try {
        (void)csd::serve_connection(client.get());
    } catch (const std::exception& e) {
        std::cerr << "server thread: " << e.what() << '\n';
    }
    client.reset();  // close the connection before saying "done"
    worker.done.store(true, std::memory_order_release);
    // END SOLUTION
}

/// Serves @p client on a new thread, remembered in @p workers.
void start_thread(csd::Fd client, Workers& workers) {
    // TODO(handout step 3): make a Worker, start its thread running
    // connection_thread() with the client (moved in) and the Worker, and
    // keep the Worker in `workers`. If the thread cannot be created
    // (std::system_error), print a message and drop the client.
    // SKELETON: (void)workers;
    // SKELETON: (void)&connection_thread;                   // yours to start on a thread
    // SKELETON: (void)csd::serve_connection(client.get());  // here: one client at a time
    // BEGIN SOLUTION
    auto worker = std::make_unique<Worker>();
    try {
        worker->thread = std::jthread(connection_thread, std::move(client), std::ref(*worker));
    } catch (const std::system_error& e) {
        // Out of threads or memory (EAGAIN): drop this client, keep serving.
        std::cerr << "server: thread: " << e.what() << '\n';
        return;
    }
    workers.push_back(std::move(worker));
    // END SOLUTION
}

/// Joins and forgets every connection thread that has ended.
void join_finished(Workers& workers) {
    // TODO(handout step 4): forget each Worker whose thread said it has
    // ended (an acquire load), and join its thread: at once, since the
    // thread is at its end.
    // SKELETON: (void)workers;
    // BEGIN SOLUTION
    const auto ended = [](const std::unique_ptr<Worker>& w) {
        return w->done.load(std::memory_order_acquire);
    };
    workers.remove_if(ended);  // each erased std::jthread joins
    // END SOLUTION
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
        // TODO(handout step 5): the main loop, until a stop is requested:
        // join the threads that have ended; with max_threads alive, accept
        // nobody (the clients wait in the kernel's accept queue) and look
        // again a little later, or at once on a stop, never spinning; else
        // wait for a client or the stop, accept it (out of descriptors:
        // pause as with the cap) and start its thread. accept(2) ERRORS.
        // SKELETON: // join_finished(): yours to call, each time round (step 5).
        // SKELETON: (void)&join_finished;
        // SKELETON: while (!csd::stop_requested()) {  // one client at a time, for now
        // SKELETON:     if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        // SKELETON:     csd::Accepted a = csd::accept_connection(listener.get());
        // SKELETON:     if (a.connection) start_thread(std::move(a.connection), workers);
        // SKELETON: }
        // BEGIN SOLUTION
        while (!csd::stop_requested()) {
            join_finished(workers);
            if (workers.size() >= max_threads) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(50));
                continue;
            }
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Accepted accepted = csd::accept_connection(listener.get());
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
                continue;
            }
            if (!accepted.connection) continue;  // EINTR, or a client that already left
            start_thread(std::move(accepted.connection), workers);
        }
        // END SOLUTION
        // TODO(handout step 6): SIGTERM or SIGINT: no new clients (they are
        // refused at once), then every connection thread ends and is joined
        // before main() returns.
        // BEGIN SOLUTION
        listener.reset();
        // Each serve_connection() sees csd::stop_fd() and returns; each
        // std::jthread destructor joins its thread.
        workers.clear();
        // END SOLUTION
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
