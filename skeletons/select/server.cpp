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
    (void)c;
    return false;
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
    (void)done;  // yours to call, with the members below
    (void)&Server::accept_clients;
    (void)&Server::read_from;
    (void)&Server::write_to;
    (void)accept_paused_until_;
    // Until then the server sleeps until SIGTERM, and no client is served.
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
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
}

void Server::read_from(Connection& c) {
    // TODO(handout step 5): read with csd::read_some() into buffer_ (at
    // most session.input_room() bytes) and feed the session, until the
    // socket would block, the session wants no more input, or read_budget
    // bytes were read. EOF: end_of_input(). The client reset: mark it gone.
    (void)c;
    (void)buffer_;
}

void Server::write_to(Connection& c) {
    // TODO(handout step 6): while the session has output, write_some() its
    // output() and consume() what was written, until the socket would
    // block or write_budget bytes went out. EPIPE/ECONNRESET: mark it gone.
    (void)c;
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
