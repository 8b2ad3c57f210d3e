// Lab "epoll": one process, one thread, every client served from one loop
// around epoll_wait() (TLPI ch. 63, "Alternative I/O Models"; epoll(7)).
//
// The protocol state of each client is a csd::Session: it parses what the
// client sent and says what to send back, and does no I/O. This lab is the
// I/O around it: never wait for one client while another one could be
// served, for ten thousand clients at once, at a cost that depends on how
// many are ready, not on how many are connected. The handout,
// labs/epoll/handout.md, explains every step; the TODOs below name them
// ("handout step N").
//
// Given: the command line, the descriptor limit, the non-blocking listening
// socket, SIGTERM through the stop descriptor, the connection table's
// declaration, the loop that drains the listen queue, and the read and
// write loops (csd::pump_input() and csd::pump_output(): the loops you
// wrote in the select lab).
// Yours: the epoll instance, its interest list (epoll_ctl) and the loop
// around epoll_wait(), a connection's turn and its interest changes, what
// its reads and writes came to, accepting, closing, what to do when the
// process runs out of descriptors, and edge-triggered mode (-e).

#include <sys/epoll.h>

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
#include <memory>
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
constexpr std::size_t max_clients = 20000;
/// Most events one epoll_wait() hands over; more wait for the next call.
constexpr int max_events = 256;

/// One client: its socket and its protocol state.
///
/// What the session says: session.wants_input() whether to read,
/// session.has_output() whether there is something to write, and
/// session.finished() that the connection should be closed now.
/// csd::pump_input() and csd::pump_output() move the bytes between the
/// socket and the session.
struct Connection {
    csd::Fd fd;                  ///< The connected socket, non-blocking; empty once closed.
    csd::Session session;        ///< What the client asked for and what it is still owed.
    bool gone = false;           ///< The client reset or vanished: close it.
    std::uint32_t watching = 0;  ///< The events epoll watches on fd now.

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// The epoll events to watch on a connection in state @p s.
std::uint32_t interest(const csd::Session& s) {
    // TODO(handout step 2): EPOLLIN only while the session wants input,
    // EPOLLOUT only while it has output (level-triggered, a writable socket
    // would be reported again and again).
    (void)s;
    return 0;
}

/// True when @p c should be closed now.
bool done(const Connection& c) {
    // TODO(handout step 4): when the client is gone, or its session is
    // finished (it sent EOF or a malformed request, and is owed nothing).
    (void)c;
    return false;
}

// What epoll_event.data.ptr holds for the two descriptors that are not
// clients (for a client, it is its Connection*): the address of one of these.
char stop_tag;
char listener_tag;

/// The event loop: the epoll instance, the listening socket, every connection.
///
/// Owns the epoll instance, the listening socket and the connections. Used
/// by the one thread of the process; nothing in it ever blocks except
/// epoll_wait().
class Server {
  public:
    /// Serves clients of @p listener, a non-blocking listening socket.
    explicit Server(csd::Fd listener);

    /// Runs the loop until SIGTERM or SIGINT, then returns. The connections
    /// are closed when the Server is destroyed.
    void run();

  private:
    /// epoll_ctl(@p op) for @p fd: watch @p events, report them with @p tag.
    void control(int op, int fd, std::uint32_t events, void* tag);
    /// Accepts every client waiting in the listen queue.
    void accept_clients();
    /// Serves @p c, for which epoll_wait() reported @p events.
    void on_event(Connection& c, std::uint32_t events);
    /// Reads what @p c sent (at most read_budget bytes) into its session;
    /// marks it gone if the client reset.
    void read_from(Connection& c);
    /// Writes what @p c is owed (at most write_budget bytes); marks it gone
    /// if the client reset or vanished.
    void write_to(Connection& c);
    /// Tells epoll what to watch on @p c now, if that changed.
    void update_interest(Connection& c);
    /// Closes @p c; its memory lives until the current batch of events is done.
    void close(Connection& c);

    csd::Fd epoll_;
    csd::Fd listener_;
    bool accepting_ = true;  // the listener is watched (EPOLLIN)
    Clock::time_point accept_paused_until_{};
    std::vector<std::unique_ptr<Connection>> by_fd_;   // by_fd_[fd]: the client on fd, or null
    std::size_t clients_ = 0;                          // non-null entries of by_fd_
    std::vector<std::unique_ptr<Connection>> closed_;  // closed in this batch: freed after it
    std::array<epoll_event, max_events> events_{};
    std::array<char, 16 * 1024> buffer_{};  // for read_from(), shared by every connection
};

Server::Server(csd::Fd listener) : listener_(std::move(listener)) {
    // TODO(handout step 3): create the epoll instance (epoll_create1(2); it
    // must not leak into a child: close-on-exec), then put the stop
    // descriptor and the listener in its set, each reported with its own tag
    // (the address of stop_tag, listener_tag: data.ptr of a client is its
    // Connection). Both are level-triggered, reported for as long as they
    // are readable.
    (void)&Server::control;  // yours to call: one epoll_ctl
}

void Server::control(int op, int fd, std::uint32_t events, void* tag) {
    // TODO(handout step 3): one change to the interest list (epoll_ctl(2)):
    // operation `op` on `fd`, watching `events`, and `tag` in the event's
    // data, which epoll_wait() hands back with every event for `fd`. A
    // failure is a bug of the server: throw (csd::check()).
    (void)op;
    (void)fd;
    (void)events;
    (void)tag;
}

void Server::run() {
    // TODO(handout step 3): the loop. Sleep in epoll_wait(2) with no timeout
    // (except while accepting is paused: until the pause ends, then watch
    // the listener again); EINTR: go round. Each event by its tag: the stop
    // ends the loop; the listener: accept_clients(); a connection:
    // on_event(), unless it was closed earlier in this batch (its fd is then
    // empty). After the batch, free what was closed in it (closed_).
    (void)stop_tag;  // yours to use, with the members below
    (void)listener_tag;
    (void)&Server::accept_clients;
    (void)&Server::on_event;
    (void)events_;
    (void)accept_paused_until_;
    (void)accepting_;
    (void)clients_;
    // Until then the server sleeps until SIGTERM, and no client is served.
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
}

void Server::accept_clients() {
    for (;;) {  // ends when the listen queue is empty: it is finite
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            // TODO(handout step 7): EMFILE or ENFILE means no descriptor is
            // left. Do not crash, do not spin: stop watching the listener
            // (EPOLL_CTL_MOD to no events, accepting_ = false) for
            // accept_pause; run() watches it again when the pause is over.
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;  // nobody else is waiting
        csd::Fd fd = std::move(accepted.connection);
        // TODO(handout step 5): keep the client: a Connection in
        // by_fd_[its fd] (grow by_fd_ as needed, count it in clients_), and
        // watched by epoll (EPOLL_CTL_ADD, interest(), data.ptr = the
        // Connection; note it in `watching`). But beyond max_clients, refuse
        // it (close it at once).
        // Until then, `fd` closes here: every client is hung up on.
    }
}

void Server::on_event(Connection& c, std::uint32_t events) {
    // TODO(handout step 4): one turn of a connection epoll reported: read
    // if it can (EPOLLERR and EPOLLHUP come unasked: the read then says
    // what happened), write what it is owed, then close it when done(), or
    // tell epoll what to watch next (update_interest()).
    (void)c;
    (void)events;
    (void)done;  // yours to call, with the members below
    (void)&Server::read_from;
    (void)&Server::write_to;
    (void)&Server::update_interest;
    (void)&Server::close;
}

void Server::update_interest(Connection& c) {
    // TODO(handout step 2): epoll remembers what it watches: tell it
    // (EPOLL_CTL_MOD) only when what the session wants (interest()) is not
    // what it watches now (c.watching). Most turns change nothing, and then
    // cost no system call.
    (void)c;
    (void)interest;
}

void Server::close(Connection& c) {
    // TODO(handout step 6): close the socket (which also takes it out of the
    // epoll set) and forget the connection: by_fd_ no longer holds it, and
    // clients_ counts one less. An event for it may still wait further down
    // in events_: keep the Connection alive, its fd empty, in closed_ until
    // run() is through with this batch.
    (void)c;
}

void Server::read_from(Connection& c) {
    // TODO(handout step 4): read with csd::pump_input(), the read loop of
    // the select lab (read_some() into buffer_ and feed() the session until
    // the socket would block, the session wants no more input, or
    // read_budget bytes were read; at EOF, end_of_input(): the client still
    // gets what it asked for). What it returns decides: `gone` (the client
    // reset) marks the connection gone; with -e, `drained` (handout step 9).
    (void)c;
    (void)buffer_;
}

void Server::write_to(Connection& c) {
    // TODO(handout step 4): write with csd::pump_output(), the write loop of
    // the select lab (write_some() the session's output() and consume() what
    // went out: a write may come up short, the rest waits for the next
    // turn; until nothing is owed, the socket would block, or write_budget
    // bytes were written). `gone` (reset, or vanished) marks the connection
    // gone; with -e, `drained` (handout step 9).
    (void)c;
}

}  // namespace

int main(int argc, char** argv) {
    // The lab's own flag, -e (handout, "Going further"): listed by -h.
    const csd::CommandLine command_line{
        .flags = {{.letter = 'e', .help = "watch clients edge-triggered (EPOLLET)"}}};
    const csd::ServerOptions options = csd::parse_server_options(argc, argv, command_line);
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
