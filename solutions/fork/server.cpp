// Lab "fork": a TCP server that forks one child process per client.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(), which does what you wrote in the iterative lab.
// This lab is about processes: the handout, labs/fork/handout.md, explains
// every step; the TODOs below name them ("handout step N").
//
// Given: the command line, the listening socket, SIGTERM and SIGINT routed
// to a self-pipe, the accept loop.
// Yours: forking a child per client with its signals reset, what the child
// and the parent close, reaping the children (and SIGCHLD), the cap on
// children, and the stop: every child ended and reaped.

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

/// fork(2) for this server, whose signals are routed: the child starts
/// with the routed signals (SIGTERM, SIGINT, SIGCHLD) at their default
/// actions, without the parent's self-pipe and stop descriptor, and no
/// handler of the parent can run in it, not even in the moment after
/// fork(). Returns like fork(2): the child's pid in the parent, 0 in the
/// child, -1 with errno set when no child was made.
pid_t fork_with_default_signals() {
    // TODO(handout step 2): block the routed signals across fork(), so that
    // none can reach a handler in the child before its reset. In the child:
    // csd::reset_signals_in_child(), then unblock them (a SIGTERM that came
    // meanwhile is delivered now, with its default action: it kills). In
    // the parent: put its signal mask back as it was. Keep fork()'s errno
    // for the caller. See sigprocmask(2) and the handout.
    // SKELETON: errno = ENOSYS;  // not written yet
    // SKELETON: return -1;
    // BEGIN SOLUTION
    sigset_t routed;
    sigemptyset(&routed);
    for (const int sig : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&routed, sig);  // as main() routes
    sigset_t before;
    csd::check(::sigprocmask(SIG_BLOCK, &routed, &before), "sigprocmask");
    const pid_t pid = ::fork();
    const int fork_errno = errno;
    if (pid == 0) {
        // No handler can run here: the signals are blocked. Reset, then
        // unblock: a SIGTERM that came meanwhile kills the child now.
        csd::reset_signals_in_child();
        ::sigprocmask(SIG_UNBLOCK, &routed, nullptr);
    } else {
        ::sigprocmask(SIG_SETMASK, &before, nullptr);
    }
    errno = fork_errno;
    return pid;
    // END SOLUTION
}

/// Serves the client on @p client in a new child process, whose pid goes
/// into @p children. The parent returns at once (and closes its @p client).
void start_child(csd::Fd& listener, csd::Fd client, Children& children) {
    // TODO(handout step 3): a child per client, made by
    // fork_with_default_signals(). In the child: close the listening
    // socket, serve with csd::serve_connection() (catching exceptions),
    // then end with _exit(): never return into the parent's loop. In the
    // parent: remember the pid. The parent's copy of `client` is closed
    // when this function returns. If no child can be made, say so on
    // stderr and drop the client.
    // SKELETON: (void)listener;
    // SKELETON: (void)children;
    // SKELETON: (void)&fork_with_default_signals;           // yours to call
    // SKELETON: (void)csd::serve_connection(client.get());  // here: one client at a time
    // BEGIN SOLUTION
    const pid_t pid = fork_with_default_signals();
    if (pid < 0) {
        // Out of processes or memory: drop this client, keep serving.
        std::cerr << "server: fork: " << std::strerror(errno) << '\n';
        return;
    }
    if (pid == 0) {        // the child
        listener.reset();  // only the parent accepts
        int status = 0;
        try {
            (void)csd::serve_connection(client.get());
        } catch (const std::exception& e) {
            std::cerr << "server child: " << e.what() << '\n';
            status = 1;
        }
        ::_exit(status);  // not return, not exit(): see the handout
    }
    children.insert(pid);  // the parent
    // END SOLUTION
}

/// Reaps every child that has exited, without blocking, and forgets it.
void reap_children(Children& children) {
    // TODO(handout step 4): reap every child that has ended, without ever
    // blocking (the parent must go back to accepting): keep asking for any
    // ended child until the answer is "some are still running" or "there is
    // no child at all"; one SIGCHLD may stand for several exited children.
    // See waitpid(2): which pid to ask for, and the option that never waits.
    // SKELETON: (void)children;
    // BEGIN SOLUTION
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            children.erase(pid);
        } else if (pid == 0 || errno == ECHILD) {
            return;
        } else if (errno != EINTR) {
            csd::throw_errno("waitpid");
        }
    }
    // END SOLUTION
}

/// The server's stop: no new clients, then every child ends (SIGTERM) and
/// is reaped.
void stop_server(csd::Fd& listener, Children& children) {
    // TODO(handout step 6): close the listening socket first (new clients
    // are refused at once); then send SIGTERM to every child in `children`,
    // and wait for each one (waitpid may fail with EINTR: a SIGCHLD
    // arrived).
    // SKELETON: (void)listener;  // closed when main() returns
    // SKELETON: (void)children;
    // BEGIN SOLUTION
    listener.reset();
    for (const pid_t pid : children) ::kill(pid, SIGTERM);
    // A child has the default action for SIGTERM (step 2), so each wait
    // below is short. (A child whose serve_connection() is writing when
    // SIGTERM comes dies at once too.)
    for (const pid_t pid : children) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    children.clear();
    // END SOLUTION
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // SIGTERM and SIGINT set csd::stop_requested() and wake
        // csd::wait_readable() up. No handler runs server code: the loop does.
        // TODO(handout step 4): the parent must hear of a child's end too,
        // to reap it at once: let that signal wake the loop as well.
        // SKELETON: csd::route_signals({SIGTERM, SIGINT});
        // BEGIN SOLUTION
        csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
        // END SOLUTION
        csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);

        Children children;
        while (!csd::stop_requested()) {
            reap_children(children);
            // TODO(handout step 5): the cap on children: with max_children
            // alive, accept nobody (the clients wait in the kernel's accept
            // queue) until a signal says that one of them exited, or a stop;
            // never spin.
            // SKELETON: (void)&wait_for_signal;  // yours to use here
            // BEGIN SOLUTION
            if (children.size() >= max_children) {
                wait_for_signal();
                continue;
            }
            // END SOLUTION
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
        stop_server(listener, children);
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
