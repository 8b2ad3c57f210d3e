// Lab "poll": one process, one thread, every client served from one loop
// around poll() (UNP vol. 1, section 6.11, with non-blocking I/O, ch. 16).
//
// The protocol state of each client is a csd::Session: it parses what the
// client sent and says what to send back, and does no I/O. This lab is the
// I/O around it: never wait for one client while another one could be
// served, for thousands of clients at once. The handout,
// labs/poll/handout.md, explains every step; the TODOs below name them
// ("handout step N").
//
// Given: the command line, the non-blocking listening socket, SIGTERM
// through the stop descriptor, the declaration of a connection and most of
// the server's, and the read and write loops (csd::pump_input() and
// csd::pump_output(): the loops you wrote in the select lab).
// Yours: the pollfd table (what it holds, what each entry asks for, keeping
// it in step with the connections), the loop around poll() and what its
// revents say, accepting the listen queue, what the reads and writes came
// to, closing, what to do when the process runs out of descriptors, and
// the descriptor limit.

#include <poll.h>

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
#include <stdexcept>
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
/// Most clients served at once; more are accepted and closed at once.
constexpr std::size_t max_clients = 10000;

/// One client: its socket and its protocol state.
///
/// What the session says: session.wants_input() whether to read,
/// session.has_output() whether there is something to write, and
/// session.finished() that the connection should be closed now.
/// csd::pump_input() and csd::pump_output() move the bytes between the
/// socket and the session.
struct Connection {
    csd::Fd fd;            ///< The connected socket, non-blocking.
    csd::Session session;  ///< What the client asked for and what it is still owed.
    bool gone = false;     ///< The client reset or vanished: close it.

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// The poll() events to ask for on a connection in state @p s.
short interest(const csd::Session& s) {
    // TODO(handout step 3): POLLIN only while the session wants input,
    // POLLOUT only while it has output (or poll() would return at once for
    // it, every time: a writable socket stays writable).
    (void)s;
    return 0;
}

/// True when @p c should be closed now.
bool done(const Connection& c) {
    // TODO(handout step 7): when the client is gone, or its session is
    // finished (it sent EOF or a malformed request, and is owed nothing).
    (void)c;
    return false;
}

/// The event loop: the listening socket and every connection.
///
/// Owns the listening socket, the connections and the table poll() reads.
/// Used by the one thread of the process; nothing in it ever blocks except
/// poll().
class Server {
  public:
    /// Serves clients of @p listener, a non-blocking listening socket.
    explicit Server(csd::Fd listener);

    /// Runs the loop until SIGTERM or SIGINT, then returns. The connections
    /// are closed when the Server is destroyed.
    void run();

  private:
    /// Accepts every client waiting in the listen queue.
    void accept_clients();
    /// Reads what @p c sent (at most read_budget bytes) into its session;
    /// marks it gone if the client reset.
    void read_from(Connection& c);
    /// Writes what @p c is owed (at most write_budget bytes); marks it gone
    /// if the client reset or vanished.
    void write_to(Connection& c);

    csd::Fd listener_;
    std::vector<Connection> connections_;   // in no particular order
    std::array<char, 16 * 1024> buffer_{};  // for read_from(), shared by every connection
    // TODO(handout step 2): the table poll() reads, a contiguous array of
    // struct pollfd: first the entries the loop always watches, then one
    // entry per connection, at the same place as its connection.
    // TODO(handout step 8): until when accepting is paused, for
    // accept_clients() to set and run() to read.
};

Server::Server(csd::Fd listener) : listener_(std::move(listener)) {
    // TODO(handout step 2): the entries the loop always watches, both for
    // input: the stop descriptor (csd::stop_fd(), readable once SIGTERM
    // came) and the listener.
}

void Server::run() {
    // TODO(handout step 4): the loop. Sleep in poll(2) on the whole table
    // until something happens: no timeout, except while accepting is paused
    // (step 8: then the listener's entry asks for nothing, until the pause
    // ends). A signal interrupts it (EINTR): go round, the stop descriptor
    // says whether it was SIGTERM: then return. A readable listener:
    // accept_clients(). Then each connection whose entry has revents gets a
    // turn: read_from() if it can read (an error or a hang-up shows as
    // POLLERR or POLLHUP, asked for or not; POLLNVAL is a bug: the entry's
    // descriptor is not open), write_to() what it is owed, then ask for
    // what it wants next (interest(), step 3). Nothing else may block.
    // TODO(handout step 7): a connection done() says is done leaves both
    // tables at once, so that each entry stays at the place of its
    // connection (its csd::Fd closes the socket). Order does not matter:
    // moving the last one into its place is O(1), but then that one has not
    // had its turn yet.
    (void)interest;  // yours to call, with done() and the members below
    (void)done;
    (void)&Server::accept_clients;
    (void)&Server::read_from;
    (void)&Server::write_to;
    // Until then the server sleeps until SIGTERM, and no client is served.
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
}

void Server::accept_clients() {
    // TODO(handout step 5): accept every client waiting in the listen queue
    // (one readable listener may stand for many), each socket non-blocking,
    // until csd::accept_connection() says there is nothing left. Keep each
    // client in both tables, at the same place (step 2), its entry asking
    // for what a new session wants. But beyond max_clients, refuse it
    // (close it at once: it sees the connection end, and no reply).
    // TODO(handout step 8): EMFILE or ENFILE means no descriptor is left.
    // Do not crash, do not spin: stop accepting for a while (accept_pause),
    // and say so on stderr.
}

void Server::read_from(Connection& c) {
    // TODO(handout step 6): read with csd::pump_input(), the read loop of
    // the select lab (read_some() into buffer_ and feed() the session until
    // the socket would block, the session wants no more input, or
    // read_budget bytes were read; at EOF, end_of_input(): the client still
    // gets what it asked for). What it returns decides: `gone` (the client
    // reset) marks the connection gone.
    (void)c;
    (void)buffer_;
}

void Server::write_to(Connection& c) {
    // TODO(handout step 6): write with csd::pump_output(), the write loop of
    // the select lab (write_some() the session's output() and consume() what
    // went out: a write may come up short, the rest waits for the next
    // turn; until nothing is owed, the socket would block, or write_budget
    // bytes were written). `gone` (reset, or vanished) marks the connection
    // gone.
    (void)c;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // TODO(handout step 9): thousands of clients need thousands of
        // descriptors: lift the soft limit on them (RLIMIT_NOFILE, often
        // 1024) to the hard one, before the first client comes.
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
