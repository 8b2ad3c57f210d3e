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
    // SKELETON: (void)s;
    // SKELETON: return 0;
    // BEGIN SOLUTION
    return static_cast<short>((s.wants_input() ? POLLIN : 0) | (s.has_output() ? POLLOUT : 0));
    // END SOLUTION
}

/// True when @p c should be closed now.
bool done(const Connection& c) {
    // TODO(handout step 5): when the client is gone, or its session is
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
    // BEGIN SOLUTION
    watched_.push_back({csd::stop_fd(), POLLIN, 0});  // readable once SIGTERM came
    watched_.push_back({listener_.get(), POLLIN, 0});
    // END SOLUTION
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
    // SKELETON: (void)interest;  // yours to call, with done() and the members below
    // SKELETON: (void)done;
    // SKELETON: (void)&Server::accept_clients;
    // SKELETON: (void)&Server::read_from;
    // SKELETON: (void)&Server::write_to;
    // SKELETON: (void)&Server::remove;
    // SKELETON: (void)accept_paused_until_;
    // SKELETON: // Until then the server sleeps until SIGTERM, and no client is served.
    // SKELETON: while (!csd::wait_for_stop(std::chrono::hours(1))) {
    // SKELETON: }
    // BEGIN SOLUTION
    for (;;) {
        // The kernel copies the whole array in and the answers out on every
        // call, and looks at every entry: O(connections) each time.
        const bool accepting = Clock::now() >= accept_paused_until_;
        watched_[1].events = accepting ? POLLIN : 0;
        int timeout_ms = -1;  // sleep until something happens...
        if (!accepting) {     // ...or until the pause ends
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(accept_paused_until_ - Clock::now());
            timeout_ms = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
        }
        const int ready = ::poll(watched_.data(), watched_.size(), timeout_ms);
        if (ready < 0 && errno == EINTR) continue;  // a signal: stop_fd() says if it was SIGTERM
        csd::check(ready, "poll");

        if (watched_[0].revents != 0) return;            // stop: ~Server closes every connection
        if (watched_[1].revents != 0) accept_clients();  // new entries have revents 0

        for (std::size_t i = 0; i < connections_.size();) {
            pollfd& entry = watched_[first_client + i];
            if (entry.revents == 0) {
                ++i;
                continue;
            }
            Connection& c = connections_[i];
            // An error or a hang-up shows up as POLLERR or POLLHUP, even
            // when not asked for: the read (or the write) then says which.
            const bool can_read = (entry.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
            if (can_read) read_from(c);
            // Right after a read there is usually a reply to send, and the
            // socket is nearly always writable: try at once (write_to()
            // finds out if it is not).
            if (!c.gone) write_to(c);
            if (done(c)) {
                remove(i);  // the last connection moves to i: look at i again
            } else {
                entry.events = interest(c.session);  // what to watch from now on
                ++i;
            }
        }
    }
    // END SOLUTION
}

void Server::remove(std::size_t i) {
    // TODO(handout step 5): take connection i out of both tables at once,
    // so that watched_[first_client + k] stays the entry of connections_[k]
    // for every k. Order does not matter: moving the last one into place i
    // is O(1). Its csd::Fd closes the socket.
    // SKELETON: (void)i;
    // BEGIN SOLUTION
    // Swap-remove from both tables, so that they stay in step: the last
    // connection (and its entry, with its revents) moves to place i.
    if (i + 1 != connections_.size()) {
        connections_[i] = std::move(connections_.back());  // closes the socket at i
        watched_[first_client + i] = watched_.back();
    }
    connections_.pop_back();  // closes the socket, if it was the last one
    watched_.pop_back();
    // END SOLUTION
}

void Server::accept_clients() {
    for (;;) {  // ends when the listen queue is empty: it is finite
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            // TODO(handout step 6): EMFILE or ENFILE means no descriptor is
            // left. Do not crash, do not spin: stop accepting for a while
            // (accept_pause), and say so on stderr.
            // BEGIN SOLUTION
            // The client stays in the listen queue and the listener stays
            // readable: watching it now would make poll() return at once,
            // again and again. Look away for a while instead.
            std::cerr << "server: " << std::strerror(accepted.error)
                      << "; not accepting for 100 ms\n";
            accept_paused_until_ = Clock::now() + accept_pause;
            // END SOLUTION
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;  // nobody else is waiting
        csd::Fd fd = std::move(accepted.connection);
        // TODO(handout step 4): keep the client, in both tables at the same
        // place (step 3: the entry of connections_[k] is at first_client +
        // k), its entry asking for what a new session wants. But beyond
        // max_clients, refuse it (close it at once). Until then, `fd`
        // closes here: every client is hung up on.
        // BEGIN SOLUTION
        if (connections_.size() >= max_clients) continue;  // refused: `fd` closes here
        // Same place in both tables. A new session wants input: POLLIN.
        watched_.push_back({fd.get(), POLLIN, 0});
        connections_.emplace_back(std::move(fd));
        // END SOLUTION
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
