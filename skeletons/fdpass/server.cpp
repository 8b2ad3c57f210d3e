// Lab "fdpass": a preforked server whose parent accepts every connection
// and passes it to a free worker over a UNIX-domain socket (SCM_RIGHTS).
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(). This lab is about passing descriptors between
// processes: the handout, labs/fdpass/handout.md, explains every step; the
// TODOs below name them ("handout step N").
//
// Given: the command line (-n WORKERS), the listening socket, signals
// routed to a self-pipe, the report printed at shutdown.
// Yours: passing a descriptor over a UNIX-domain socket (sendmsg and
// recvmsg with SCM_RIGHTS), the workers and their channels, the parent's
// loop that hands out connections, notices free and dead workers, and
// replaces the dead.

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <system_error>
#include <vector>

#include "csd/lab.hpp"

namespace {

/// One worker slot, as the parent sees it. Only the parent's main thread
/// uses it (a worker gets a copy at fork and closes what is not its own).
struct Worker {
    pid_t pid = 0;                  ///< 0: no worker in the slot (never started, or reaped).
    pid_t last_pid = 0;             ///< The last worker of the slot, for the report.
    csd::Fd channel;                ///< The parent's end of the socketpair to the worker.
    bool free = false;              ///< Waiting for a connection.
    std::uint64_t connections = 0;  ///< Connections handed to the slot's workers.
};

/// Sends the descriptor @p fd to the other end of the UNIX-domain socket
/// @p channel: the receiver gets a new descriptor for the same open file
/// (the sender keeps its own). True when sent; false when the other end is
/// gone. Other errors throw std::system_error.
bool send_descriptor(int channel, int fd) {
    // TODO(handout step 2): one sendmsg(2) whose data is one byte (a
    // message with no data may not be seen at all) and whose control data
    // is one SCM_RIGHTS message carrying @p fd: a control buffer sized for
    // one descriptor and aligned for a cmsghdr, filled through the CMSG_*
    // macros (cmsg(3), unix(7)). It must never raise SIGPIPE. Interrupted:
    // try again. The worker gone (EPIPE, ECONNRESET): false.
    (void)channel;
    (void)fd;
    return false;
}

/// What receive_descriptor() came to.
enum class Received {
    descriptor,   ///< A descriptor arrived.
    parent_gone,  ///< End of file: the other end is closed.
    interrupted,  ///< A signal came first; nothing received.
};

/// Receives one descriptor sent by send_descriptor() on @p channel into
/// @p fd (close-on-exec). Throws std::system_error (EBADMSG) for a message
/// without a descriptor or with truncated control data, and for other
/// errors.
Received receive_descriptor(int channel, csd::Fd& fd) {
    // TODO(handout step 2): one recvmsg(2) with room for one data byte and
    // one SCM_RIGHTS message of one descriptor, the descriptor created
    // close-on-exec (a recvmsg flag does it in the same call). Own what
    // arrived at once (a csd::Fd). End of file: the parent is gone. Control
    // data cut short (MSG_CTRUNC in msg_flags) or a message without a
    // descriptor is an error: throw, having closed what came.
    (void)channel;
    (void)fd;
    return Received::parent_gone;
}

/// The body of a worker: receive a connection on @p channel, serve it,
/// close it, say "free" (one byte), go round. Returns when the parent is
/// gone (EOF on the channel).
void run_worker(int channel) {
    // TODO(handout step 3): loop: receive a connection from the parent on
    // the channel (receive_descriptor()); serve it with csd::serve_connection() and
    // let it close; then tell the parent you are free again, with one byte
    // on the channel (the handout's channel protocol). The parent gone (end
    // of file on the channel): return; interrupted: go round.
    (void)channel;
    (void)receive_descriptor;  // yours to call
}

/// Starts the worker of slot @p index: a new socketpair, then
/// csd::fork_child(). On failure the slot stays empty (tried again later).
void start_worker(std::vector<Worker>& workers, std::size_t index, csd::Fd& listener) {
    // TODO(handout step 1): csd::socket_pair(); csd::fork_child(). In the
    // child: close the listener and every other slot's channel and your
    // copy of the parent's end, run_worker() on your end, then _exit(0).
    // Create the worker's stop descriptor at once (csd::stop_fd()). In the
    // parent: keep your end in workers[index].channel, close the
    // child's end, remember the pid, mark the worker free.
    (void)workers;
    (void)index;
    (void)listener;
    (void)run_worker;
}

/// Reaps every ended worker; its slot becomes empty (pid 0, no channel).
void reap_workers(std::vector<Worker>& workers) {
    for (;;) {
        const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == ECHILD)) return;
        if (pid < 0) {
            if (errno == EINTR) continue;
            csd::throw_errno("waitpid");
        }
        for (Worker& w : workers) {
            if (w.pid != pid) continue;
            w.pid = 0;
            w.free = false;
            w.channel.reset();
        }
    }
}

/// Accepts one connection and passes it to a free worker (there is one).
void hand_over(int listener, std::vector<Worker>& workers) {
    // TODO(handout step 4): csd::accept_connection() (the listener is
    // non-blocking: "nothing" is normal); find a free worker; send_descriptor()
    // the connection to it, count it, mark the worker busy. The parent's
    // copy of the connection closes when this function returns.
    (void)workers;
    (void)send_descriptor;  // yours to call
    csd::Accepted client = csd::accept_connection(listener);
    if (client.connection) (void)csd::serve_connection(client.connection.get());
}

/// Reads what worker @p w said on its channel: one byte per connection it
/// finished ("free"), or EOF when it died.
void listen_to(Worker& w) {
    char said[64];
    using enum csd::ReadStatus;
    const csd::ReadResult r = csd::read_some(w.channel.get(), said, sizeof said);
    if (r.status == ok) {
        w.free = true;
    } else if (r.status == eof || r.status == peer_gone) {
        w.free = false;  // dead: SIGCHLD follows, the slot is reaped and refilled
        w.channel.reset();
    }
}

/// Ends every worker (SIGTERM) and waits until all of them are reaped.
void stop_workers(std::vector<Worker>& workers) {
    for (const Worker& w : workers) {
        if (w.pid > 0) ::kill(w.pid, SIGTERM);
    }
    for (Worker& w : workers) {
        if (w.pid <= 0) continue;
        while (::waitpid(w.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        w.pid = 0;
    }
}

/// Prints the distribution report (docs/contract.md): one line per slot.
void print_report(const std::vector<Worker>& workers) {
    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::cout << "worker " << i << " pid " << workers[i].last_pid << " connections "
                  << workers[i].connections << " useless-wakeups 0\n";
    }
    std::cout << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options =
        csd::parse_server_options(argc, argv, csd::CommandLine{.workers = true});
    if (options.workers < 1 || options.workers > 1000) {
        std::cerr << "server: -n must be between 1 and 1000\n";
        return 2;
    }
    try {
        csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
        csd::Fd listener =
            csd::listen_tcp(options.host, options.port, csd::ListenOptions{.nonblocking = true});
        std::vector<Worker> workers(static_cast<std::size_t>(options.workers));
        csd::announce_listening(options.host, options.port);

        while (!csd::stop_requested()) {
            // TODO(handout step 5): refill the empty slots (start_worker());
            // poll the self-pipe, every worker's channel, and the listener
            // only while some worker is free (no free worker: accept
            // nobody); then handle what is ready: drain the signals and
            // reap_workers(), listen_to() each readable channel, hand_over()
            // when the listener is readable.
            if (csd::wait_readable(listener.get()) == csd::Wakeup::readable)
                hand_over(listener.get(), workers);
            (void)start_worker;  // yours to call, with reap_workers() and listen_to()
            (void)reap_workers;
            (void)listen_to;
        }
        listener.reset();
        stop_workers(workers);
        print_report(workers);
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
