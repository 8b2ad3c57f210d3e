// Lab "fork": a TCP server that forks one child process per client.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(), which does what you wrote in the iterative lab.
// This lab is about processes: the handout, labs/fork/handout.md, explains
// every step; the TODOs below name them ("handout step N").
//
// Given: the command line, the listening socket, signals routed to a
// self-pipe, the accept loop.
// Yours: forking a child per client, reaping the children, ending them on
// SIGTERM.

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <exception>
#include <iostream>
#include <set>
#include <utility>

#include "csd/lab.hpp"

namespace {

/// Most children alive at once. With that many, the server stops accepting
/// until one exits: a flood of clients cannot fork-bomb the machine.
constexpr std::size_t max_children = 512;

/// The pids of the children that were forked and not reaped yet. Only the
/// parent's main thread uses it.
using Children = std::set<pid_t>;

/// Blocks until a routed signal (SIGCHLD, SIGTERM, SIGINT) arrives.
void wait_for_signal() {
    pollfd self_pipe{csd::signal_fd(), POLLIN, 0};
    if (::poll(&self_pipe, 1, -1) < 0 && errno != EINTR) csd::throw_errno("poll");
    (void)csd::drain_signals();
}

/// Serves the client on @p client in a new child process, whose pid goes
/// into @p children. The parent returns at once (and closes its @p client).
void start_child(csd::Fd& listener, csd::Fd client, Children& children) {
    // TODO(handout step 2): csd::fork_child() (fork() with the signals made
    // safe, see the handout). In the child: close the listening socket,
    // csd::serve_connection(), then _exit(0): never return into the
    // parent's loop. In the parent: remember the pid. The parent's copy of
    // `client` is closed when this function returns.
    (void)listener;
    (void)children;
    (void)csd::serve_connection(client.get());  // one client at a time, as before
}

/// Reaps every child that has exited, without blocking, and forgets it.
void reap_children(Children& children) {
    // TODO(handout step 3): reap every child that has ended, without ever
    // blocking (the parent must go back to accepting): keep asking for any
    // ended child until the answer is "some are still running" or "there is
    // no child at all"; one SIGCHLD may stand for several exited children.
    // See waitpid(2): which pid to ask for, and the option that never waits.
    (void)children;
}

/// Ends every child (SIGTERM) and waits until all of them are reaped.
void stop_children(Children& children) {
    // TODO(handout step 5): send SIGTERM to every child in `children`, then
    // wait for each one (waitpid may fail with EINTR: a SIGCHLD arrived).
    (void)children;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // SIGTERM and SIGINT set csd::stop_requested(); they and SIGCHLD wake
        // csd::wait_readable() up. No handler runs server code: the loop does.
        csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
        csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);

        Children children;
        while (!csd::stop_requested()) {
            reap_children(children);
            // The cap on children (handout step 4): with max_children alive,
            // accept nobody until a SIGCHLD says that one of them exited.
            if (children.size() >= max_children) {
                wait_for_signal();
                continue;
            }
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Accepted accepted = csd::accept_connection(listener.get());
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
                continue;
            }
            if (!accepted.connection) continue;  // EINTR, or a client that already left
            start_child(listener, std::move(accepted.connection), children);
        }
        // SIGTERM or SIGINT: no new clients, then no children.
        listener.reset();
        stop_children(children);
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
