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
// Given: the command line, the descriptor limit, the non-blocking listening
// socket, SIGTERM through the stop descriptor, the two tables (their
// declarations), the loop that drains the listen queue, and reading and
// writing (csd::pump_input() and csd::pump_output(): the loops you wrote in
// the select lab).
// Yours: the loop around poll() and its table (what it holds, what each
// entry asks for, how an entry leaves it), accepting, closing, and what to
// do when the process runs out of descriptors.

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
    // TODO(handout step 2): POLLIN only while the session wants input,
    // POLLOUT only while it has output (or poll() would return at once for
    // it, every time: a writable socket stays writable).
    (void)s;
    return 0;
}

/// True when @p c should be closed now.
bool done(const Connection& c) {
    // TODO(handout step 5): when the client is gone, or its session is
    // finished (it sent EOF or a malformed request, and is owed nothing).
    (void)c;
    return false;
}

/// The event loop: the listening socket and every connection.
///
/// Owns the listening socket and the connections. Used by the one thread of
/// the process; nothing in it ever blocks except poll().
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
    /// Closes connection @p i and removes it from both tables.
    void remove(std::size_t i);

    /// watched_[first_client + i] is the entry of connections_[i].
    static constexpr std::size_t first_client = 2;

    csd::Fd listener_;
    // What poll() watches: [0] the stop descriptor, [1] the listener, then one
    // entry per connection, in the order of connections_.
    std::vector<pollfd> watched_;
    std::vector<Connection> connections_;
    Clock::time_point accept_paused_until_{};
    std::array<char, 16 * 1024> buffer_{};  // for read_from(), shared by every connection
};

Server::Server(csd::Fd listener) : listener_(std::move(listener)) {
    // TODO(handout step 3): the first entries of the table are the ones the
    // loop always watches (see first_client): the stop descriptor
    // (csd::stop_fd(), readable once SIGTERM came) and the listener, both
    // for input.
}

void Server::run() {
    // TODO(handout step 3): the loop. Sleep in poll(2) on the whole table
    // until something happens (no timeout, except while accepting is paused:
    // step 6); a signal interrupts it (EINTR), and the stop descriptor says
    // whether it was SIGTERM: then return. A readable listener: accept
    // (accept_clients()). Then give each connection whose entry has revents
    // a turn: read_from() if it can read (an error or a hang-up shows as
    // POLLERR or POLLHUP, asked for or not), write_to() what it is owed,
    // then either remove it (done(): step 5) or ask for what it wants next
    // (interest(): step 2). Nothing else may block.
    (void)interest;  // yours to call, with done() and the members below
    (void)done;
    (void)&Server::accept_clients;
    (void)&Server::read_from;
    (void)&Server::write_to;
    (void)&Server::remove;
    (void)accept_paused_until_;
    // Until then the server sleeps until SIGTERM, and no client is served.
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
}

void Server::remove(std::size_t i) {
    // TODO(handout step 5): take connection i out of both tables at once,
    // so that watched_[first_client + k] stays the entry of connections_[k]
    // for every k. Order does not matter: moving the last one into place i
    // is O(1). Its csd::Fd closes the socket.
    (void)i;
}

void Server::accept_clients() {
    for (;;) {  // ends when the listen queue is empty: it is finite
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            // TODO(handout step 6): EMFILE or ENFILE means no descriptor is
            // left. Do not crash, do not spin: stop accepting for a while
            // (accept_pause), and say so on stderr.
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;  // nobody else is waiting
        csd::Fd fd = std::move(accepted.connection);
        // TODO(handout step 4): keep the client, in both tables at the same
        // place (step 3: the entry of connections_[k] is at first_client +
        // k), its entry asking for what a new session wants. But beyond
        // max_clients, refuse it (close it at once). Until then, `fd`
        // closes here: every client is hung up on.
    }
}

void Server::read_from(Connection& c) {
    // csd::pump_input() is the read loop of the select lab: read_some()
    // into buffer_ and feed() the session until the socket would block, the
    // session wants no more input, or read_budget bytes were read; at EOF,
    // end_of_input() (the client still gets what it asked for).
    const csd::Pump result = csd::pump_input(c.fd.get(), c.session, buffer_, read_budget);
    if (result == csd::Pump::gone) c.gone = true;
}

void Server::write_to(Connection& c) {
    // csd::pump_output() is the write loop of the select lab: write_some()
    // the session's output() and consume() what went out, until nothing is
    // owed, the socket would block, or write_budget bytes were written.
    const csd::Pump result = csd::pump_output(c.fd.get(), c.session, write_budget);
    if (result == csd::Pump::gone) c.gone = true;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        csd::raise_open_file_limit();  // thousands of clients: lift the soft limit (often 1024)
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
