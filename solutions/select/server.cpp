// Lab "select": one process, one thread, every client served from one loop
// around select() (UNP vol. 1, section 6.8, with non-blocking I/O, ch. 16).
//
// The protocol state of each client is a csd::Session: it parses what the
// client sent and says what to send back, and does no I/O. This lab is the
// I/O around it: never wait for one client while another one could be
// served. The handout, labs/select/handout.md, explains every step; the
// TODOs below name them ("handout step N").
//
// Given: the command line, the non-blocking listening socket, SIGTERM through
// the stop descriptor, the declarations of a connection and of the server.
// Yours: the loop around select() (what it watches, when it sleeps, who gets
// a turn), accepting the listen queue and the FD_SETSIZE wall, reading and
// writing without blocking, closing, and what to do when the process runs
// out of descriptors.

#include <sys/select.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <utility>
#include <vector>

#include "csd/lab.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Most bytes read from one client in one turn of the loop: a client that
/// sends a lot must not keep the loop to itself.
constexpr std::size_t read_budget = 64 * 1024;
/// Most bytes written to one client in one turn of the loop.
constexpr std::size_t write_budget = 256 * 1024;
/// How long to stop accepting after accept() found no free descriptor.
constexpr auto accept_pause = std::chrono::milliseconds(100);

/// One client: its socket and its protocol state.
///
/// How to use the session: session.feed(bytes) with what was read (read
/// at most session.input_room() bytes: it takes them all),
/// session.end_of_input() at EOF; send session.output() and report what
/// went out with session.consume(n). session.wants_input() says whether to
/// read, session.has_output() whether there is something to write, and
/// session.finished() that the connection should be closed now.
struct Connection {
    csd::Fd fd;            ///< The connected socket, non-blocking.
    csd::Session session;  ///< What the client asked for and what it is still owed.
    bool gone = false;     ///< The client reset or vanished: close it.

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// True when @p c should be closed now.
bool done(const Connection& c) {
    // TODO(handout step 7): when the client is gone, or its session is
    // finished (it sent EOF or a malformed request, and is owed nothing).
    // SKELETON: (void)c;
    // SKELETON: return false;
    // BEGIN SOLUTION
    return c.gone || c.session.finished();
    // END SOLUTION
}

/// The event loop: the listening socket and every connection.
///
/// Owns the listening socket and the connections. Used by the one thread of
/// the process; nothing in it ever blocks except select().
class Server {
  public:
    /// Serves clients of @p listener, a non-blocking listening socket.
    explicit Server(csd::Fd listener) : listener_(std::move(listener)) {}

    /// Runs the loop until SIGTERM or SIGINT, then returns. The connections
    /// are closed when the Server is destroyed.
    void run();

  private:
    /// Accepts every client waiting in the listen queue.
    void accept_clients();
    /// Reads what @p c sent (at most read_budget bytes) into its session.
    void read_from(Connection& c);
    /// Writes what @p c is owed (at most write_budget bytes).
    void write_to(Connection& c);

    csd::Fd listener_;
    std::vector<Connection> connections_;      // in no particular order
    Clock::time_point accept_paused_until_{};  // no accepting before then (step 8)
    std::array<char, 16 * 1024> buffer_{};     // for read_from(), shared by every connection
};

void Server::run() {
    // TODO(handout step 2): every turn, build the sets anew: select()
    // overwrites them with its answer. Read interest in the stop descriptor
    // (csd::stop_fd(), readable once SIGTERM came), in the listener unless
    // accepting is paused (step 8), and in each connection while its session
    // wants input; write interest only while it has output (or select()
    // would wake up for it at once, every time). Keep the highest descriptor.
    // TODO(handout step 3): sleep in select(2) until one of them is ready:
    // no timeout, except while accepting is paused (until the pause ends).
    // EINTR: go round (the stop descriptor says whether it was SIGTERM). The
    // stop descriptor ready: return. The listener ready: accept_clients().
    // Then each connection in an answer set gets its turn: read_from(),
    // write_to(). Nothing else may block.
    // TODO(handout step 7): forget each connection done() says is done (its
    // csd::Fd closes the socket), without skipping the one after it.
    // SKELETON: (void)done;  // yours to call, with the members below
    // SKELETON: (void)&Server::accept_clients;
    // SKELETON: (void)&Server::read_from;
    // SKELETON: (void)&Server::write_to;
    // SKELETON: (void)accept_paused_until_;
    // SKELETON: // Until then the server sleeps until SIGTERM, and no client is served.
    // SKELETON: while (!csd::wait_for_stop(std::chrono::hours(1))) {
    // SKELETON: }
    // BEGIN SOLUTION
    for (;;) {
        // select() overwrites the sets with its answer: build them anew
        // every turn. That is O(connections), and so is select() itself.
        fd_set readable;
        fd_set writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        int max_fd = csd::stop_fd();
        FD_SET(csd::stop_fd(), &readable);  // readable once SIGTERM came
        const bool accepting = Clock::now() >= accept_paused_until_;

        const auto watch = [&max_fd](int fd, fd_set& set) {
            FD_SET(fd, &set);  // fd < FD_SETSIZE: accept_clients() made sure
            max_fd = std::max(max_fd, fd);
        };
        if (accepting) watch(listener_.get(), readable);
        for (const Connection& c : connections_) {
            if (c.session.wants_input()) watch(c.fd.get(), readable);  // else: back-pressure
            if (c.session.has_output()) watch(c.fd.get(), writable);
        }

        // No timeout (sleep until something happens), unless accepting is
        // paused: then wake up when the pause ends.
        timeval pause{};
        timeval* timeout = nullptr;
        if (!accepting) {
            const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                accept_paused_until_ - Clock::now());
            pause.tv_usec = static_cast<suseconds_t>(std::max<std::int64_t>(left.count(), 0));
            timeout = &pause;
        }
        // nfds is a count: descriptors 0 to max_fd are looked at.
        const int ready = ::select(max_fd + 1, &readable, &writable, nullptr, timeout);
        if (ready < 0 && errno == EINTR) continue;  // a signal: stop_fd() says if it was SIGTERM
        csd::check(ready, "select");

        if (FD_ISSET(csd::stop_fd(), &readable)) return;  // ~Server closes every connection
        if (FD_ISSET(listener_.get(), &readable)) accept_clients();

        // New connections are in no set: FD_ISSET() is false for them.
        for (std::size_t i = 0; i < connections_.size();) {
            Connection& c = connections_[i];
            const int fd = c.fd.get();
            const bool can_read = FD_ISSET(fd, &readable);
            if (can_read) read_from(c);
            // Right after a read there is usually a reply to send, and the
            // socket is nearly always writable: try at once (write_to()
            // finds out if it is not).
            if (!c.gone && (can_read || FD_ISSET(fd, &writable))) write_to(c);
            if (done(c)) {
                // Swap-remove: the last connection moves into this place
                // (closing this socket) and is looked at next, as i stays.
                if (&c != &connections_.back()) c = std::move(connections_.back());
                connections_.pop_back();
            } else {
                ++i;
            }
        }
    }
    // END SOLUTION
}

void Server::accept_clients() {
    // TODO(handout step 4): accept every client waiting in the listen queue
    // (one readable listener may stand for many), each socket non-blocking,
    // until csd::accept_connection() says there is nothing left. Keep each
    // client in connections_. But a descriptor >= FD_SETSIZE cannot go into
    // an fd_set: refuse such a client (close it at once, it sees EOF and no
    // reply).
    // TODO(handout step 8): EMFILE or ENFILE means no descriptor is left.
    // Do not crash, do not spin: stop accepting for a while (accept_pause),
    // and say so on stderr.
    // BEGIN SOLUTION
    for (;;) {  // ends when the listen queue is empty: it is finite
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            // The client stays in the listen queue and the listener stays
            // readable: watching it now would make select() return at
            // once, again and again. Look away for a while instead.
            std::cerr << "server: " << std::strerror(accepted.error)
                      << "; not accepting for 100 ms\n";
            accept_paused_until_ = Clock::now() + accept_pause;
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;  // nobody else is waiting
        csd::Fd fd = std::move(accepted.connection);
        if (fd.get() >= FD_SETSIZE) continue;  // FD_SET() would write past the end: `fd` closes
        connections_.emplace_back(std::move(fd));
    }
    // END SOLUTION
}

void Server::read_from(Connection& c) {
    // TODO(handout step 5): read with csd::read_some() into buffer_ (at
    // most session.input_room() bytes) and feed the session, until the
    // socket would block, the session wants no more input, or read_budget
    // bytes were read. EOF: end_of_input(). The client reset: mark it gone.
    // SKELETON: (void)c;
    // SKELETON: (void)buffer_;
    // BEGIN SOLUTION
    for (std::size_t total = 0; total < read_budget && c.session.wants_input();) {
        // No more than the session is sure to take: the rest waits in the
        // socket (back-pressure), and select() says when it is there.
        const std::size_t room = std::min(buffer_.size(), c.session.input_room());
        const csd::ReadResult r = csd::read_some(c.fd.get(), buffer_.data(), room);
        switch (r.status) {
            case csd::ReadStatus::ok:
                (void)c.session.feed({buffer_.data(), r.bytes});  // takes all: <= input_room()
                total += r.bytes;
                break;
            case csd::ReadStatus::eof:
                c.session.end_of_input();  // still answer what it asked for
                return;
            case csd::ReadStatus::peer_gone:
                c.gone = true;
                return;
            case csd::ReadStatus::would_block:  // read everything there was
            case csd::ReadStatus::interrupted:  // select() will say so again
                return;
        }
    }
    // END SOLUTION
}

void Server::write_to(Connection& c) {
    // TODO(handout step 6): while the session has output, write_some() its
    // output() and consume() what was written, until the socket would
    // block or write_budget bytes went out. EPIPE/ECONNRESET: mark it gone.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    for (std::size_t total = 0; total < write_budget && c.session.has_output();) {
        const csd::WriteResult w = csd::write_some(c.fd.get(), c.session.output());
        switch (w.status) {
            case csd::WriteStatus::ok:
                c.session.consume(w.bytes);  // a partial write: the rest goes next time
                total += w.bytes;
                break;
            case csd::WriteStatus::peer_gone:
                c.gone = true;
                return;
            case csd::WriteStatus::would_block:  // its socket buffer is full
            case csd::WriteStatus::interrupted:
                return;
        }
    }
    // END SOLUTION
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // SIGTERM and SIGINT request a stop: csd::stop_fd() becomes readable
        // (for good), and the loop watches it like any other descriptor.
        csd::route_signals({SIGTERM, SIGINT});
        // Non-blocking listener: accept() returns at once when nobody waits.
        Server server(csd::listen_tcp(options.host, options.port, {.nonblocking = true}));
        csd::announce_listening(options.host, options.port);
        server.run();
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
