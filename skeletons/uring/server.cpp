// Lab "uring": one process, one thread, every client served through one
// io_uring (io_uring(7), liburing). Where the epoll lab asks the kernel "which
// sockets are ready?" and then makes the calls itself, this server hands the
// kernel the calls to make (accept, recv, send) and collects the results.
//
// The protocol state of each client is a csd::Session: it parses what the
// client sent and says what to send back, and does no I/O. The handout,
// labs/uring/handout.md, explains every step; the TODOs below name them
// ("handout step N").
//
// Given: the command line, the ring (csd::Ring) and its provided buffers
// (csd::BufferRing), the listening socket, SIGTERM through the ring (a poll
// request on the stop descriptor), the loop that submits and reaps, the
// connection table, and closing a connection (cancelling what it still has
// in flight).
// Yours: the multishot accept and what its completions mean, the recv into a
// provided buffer and its completion, the send and its completion (a short
// send is resubmitted), and when a connection is done.

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "csd/lab.hpp"
#include "csd/uring.hpp"

namespace {

/// Submission queue entries of the ring: the completion queue gets twice as
/// many. Requests in flight are not limited by it: 10,000 clients each with
/// a recv in flight are fine (the kernel keeps them, not the queue).
constexpr unsigned ring_entries = 1024;
/// Provided buffers (a power of two) and their size: a recv takes one only
/// when its data arrives, so idle clients hold none.
constexpr unsigned buffer_count = 256;
constexpr std::size_t buffer_size = 16 * 1024;
/// The buffer group id of the recv requests.
constexpr std::uint16_t buffer_group = 1;
/// Most reply bytes copied into a connection's send buffer at once.
constexpr std::size_t send_chunk = 128 * 1024;
/// How long to stop accepting after accept found no free descriptor.
constexpr long long accept_pause_ns = 100'000'000;
/// Most clients served at once; more are accepted and closed at once.
constexpr std::size_t max_clients = 20000;

/// What a completion is about: the low 3 bits of its user_data. For recv,
/// send (and nothing else) the other bits are the Connection's address.
enum Kind : std::uint64_t {
    accept_kind = 0,  ///< the multishot accept on the listener
    stop_kind = 1,    ///< the poll request on csd::stop_fd(): SIGTERM came
    pause_kind = 2,   ///< the timeout that ends an accept pause
    recv_kind = 3,    ///< a connection's recv
    send_kind = 4,    ///< a connection's send
    cancel_kind = 5,  ///< a cancel request: nothing to do when it completes
};
constexpr std::uint64_t kind_mask = 7;

/// One client: its socket, its protocol state and what it has in flight.
///
/// What the session says: session.wants_input() whether to read,
/// session.input_room() how much at most, session.has_output() whether
/// there is something to send, session.finished() that the connection
/// should be closed now.
struct alignas(8) Connection {
    csd::Fd fd;                   ///< The connected socket. Closed when the Connection is freed.
    csd::Session session;         ///< What the client asked for and what it is still owed.
    bool receiving = false;       ///< A recv is in flight (the kernel may fill a buffer).
    bool sending = false;         ///< A send is in flight: `out` must stay where it is.
    bool waiting_buffer = false;  ///< The last recv found no free buffer: retry after the batch.
    bool gone = false;            ///< The client reset or vanished: close it.
    bool closing = false;         ///< Being closed: freed once nothing is in flight.
    /// Bytes being sent: copied out of the session, because the kernel reads
    /// them later, while the session may change (and move its own bytes).
    std::string out;
    std::size_t out_sent = 0;  ///< Bytes of `out` already sent.

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// The user_data of a request of @p kind about @p c.
std::uint64_t tag(Kind kind, const Connection* c = nullptr) {
    return reinterpret_cast<std::uintptr_t>(c) | kind;
}

/// The loop: the ring, its buffers, the listening socket, every connection.
///
/// Owns all of them. Used by the one thread of the process; the only call
/// that ever waits is io_uring_enter() in csd::Ring::submit_and_wait().
class Server {
  public:
    /// Serves clients of the listening socket @p listener.
    explicit Server(csd::Fd listener);

    /// Runs the loop until SIGTERM or SIGINT, then returns. The connections
    /// are closed when the Server is destroyed.
    void run();

  private:
    /// Handles one completion; false when it says stop.
    bool on_completion(const io_uring_cqe& cqe);
    /// The multishot accept on the listener (again).
    void submit_accept();
    /// A new client, or why none came, from the multishot accept.
    void on_accept(const io_uring_cqe& cqe);
    /// A recv for @p c into a provided buffer, at most input_room() bytes.
    void submit_recv(Connection& c);
    /// What the recv of @p c brought.
    void on_recv(Connection& c, const io_uring_cqe& cqe);
    /// A send of what is left of c.out.
    void submit_send(Connection& c);
    /// What the send of @p c achieved.
    void on_send(Connection& c, const io_uring_cqe& cqe);
    /// Starts what @p c needs next (a recv, a send), or closes it.
    void serve(Connection& c);
    /// True when @p c should be closed now.
    static bool done(const Connection& c);
    /// Closes @p c: cancels what it has in flight, frees it once nothing is.
    void close(Connection& c);
    /// Cancels the request whose user_data is @p request.
    void cancel(std::uint64_t request);

    csd::Ring ring_;
    csd::BufferRing buffers_;  // destroyed before ring_
    csd::Fd listener_;
    __kernel_timespec pause_{};  // read by the kernel when the pause timeout is submitted
    std::vector<std::unique_ptr<Connection>> by_fd_;  // by_fd_[fd]: the client on fd, or null
    std::size_t clients_ = 0;                         // non-null entries of by_fd_
    std::vector<Connection*> no_buffer_;              // recv failed with ENOBUFS in this batch
};

Server::Server(csd::Fd listener)
    : ring_(ring_entries),
      buffers_(ring_, buffer_group, buffer_count, buffer_size),
      listener_(std::move(listener)) {
    // SIGTERM makes csd::stop_fd() readable for good: one poll request on it
    // completes then, and wakes the loop like any other completion.
    io_uring_sqe& stop = ring_.next_sqe();
    ::io_uring_prep_poll_add(&stop, csd::stop_fd(), POLLIN);
    ::io_uring_sqe_set_data64(&stop, tag(stop_kind));
    submit_accept();
}

void Server::run() {
    for (;;) {
        // One system call submits every request queued since the last
        // turn and sleeps until at least one has completed.
        if (!ring_.submit_and_wait()) continue;  // EINTR: the stop poll completes too
        io_uring_cqe* cqe = nullptr;
        while (::io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
            const io_uring_cqe completion = *cqe;
            ::io_uring_cqe_seen(ring_.get(), cqe);   // its slot is free for the kernel again
            if (!on_completion(completion)) return;  // ~Server closes every connection
        }
        // Every buffer of this batch was given back: try those again.
        for (Connection* c : std::exchange(no_buffer_, {})) {
            c->waiting_buffer = false;
            serve(*c);
        }
    }
}

bool Server::on_completion(const io_uring_cqe& cqe) {
    const auto kind = static_cast<Kind>(cqe.user_data & kind_mask);
    auto* const c = reinterpret_cast<Connection*>(cqe.user_data & ~kind_mask);
    switch (kind) {
        case stop_kind:
            return false;
        case accept_kind:
            on_accept(cqe);
            break;
        case pause_kind:
            submit_accept();  // the pause is over
            break;
        case recv_kind:
            on_recv(*c, cqe);
            break;
        case send_kind:
            on_send(*c, cqe);
            break;
        case cancel_kind:
            break;  // the cancelled request completes on its own (-ECANCELED)
    }
    return true;
}

void Server::submit_accept() {
    // TODO(handout step 1): one multishot accept on the listener
    // (io_uring_prep_multishot_accept, SOCK_CLOEXEC, user_data
    // tag(accept_kind)): it completes once per client, for as long as its
    // completions carry IORING_CQE_F_MORE.
}

void Server::on_accept(const io_uring_cqe& cqe) {
    // TODO(handout step 2): cqe.res is a new connected socket (keep it in a
    // Connection in by_fd_[its fd], count it in clients_, serve() it;
    // beyond max_clients close it at once), or minus an error number. When
    // IORING_CQE_F_MORE is not set, the multishot accept has ended: submit
    // it again, except after EMFILE or ENFILE (csd::out_of_descriptors()):
    // then pause, with a timeout request of accept_pause_ns
    // (io_uring_prep_timeout, user_data tag(pause_kind)).
    (void)cqe;
}

void Server::submit_recv(Connection& c) {
    // TODO(handout step 3): a recv on c.fd that brings no buffer of its own:
    // the kernel picks one of the provided buffers of buffers_.group() when
    // data arrives (the handout's "Provided buffers": which SQE flag asks for
    // that, and which field names the group). Ask for no more than
    // c.session.input_room() bytes (and buffer_size), so that feed() takes
    // all of them. Tag its user_data as a recv of c (tag()), and note it in
    // c.receiving.
    (void)c;
}

void Server::on_recv(Connection& c, const io_uring_cqe& cqe) {
    c.receiving = false;
    const int id = csd::BufferRing::buffer_id(cqe.flags);  // -1: no buffer was used
    // TODO(handout step 4): cqe.res > 0: feed() the session the bytes of
    // buffer `id`, then give the buffer back (buffers_.give_back(id)) at
    // once. 0: the client sent EOF (end_of_input()). -ENOBUFS: every buffer
    // was in use; note c.waiting_buffer and c in no_buffer_, run() retries
    // after the batch. -ECANCELED: close() cancelled it. Any other error:
    // the client is gone. A connection being closed only gives its buffer
    // back. serve(c) follows (given).
    (void)cqe;
    (void)id;
    serve(c);
}

void Server::submit_send(Connection& c) {
    // TODO(handout step 5): a send of what is left of c.out (from
    // c.out_sent on) that cannot raise SIGPIPE; tag its user_data as a send
    // of c (tag()), and note it in c.sending. c.out must not change until it
    // completes.
    (void)c;
}

void Server::on_send(Connection& c, const io_uring_cqe& cqe) {
    c.sending = false;
    // TODO(handout step 5): cqe.res bytes went out: add them to c.out_sent
    // (serve() sends the rest: a short send is resubmitted). An error
    // (EPIPE, ECONNRESET) means the client is gone; -ECANCELED, that close()
    // cancelled it.
    (void)cqe;
    serve(c);
}

bool Server::done(const Connection& c) {
    // TODO(handout step 6): when the client is gone, or its session is
    // finished and every byte of c.out was sent.
    (void)c;
    return false;
}

void Server::serve(Connection& c) {
    if (c.closing) {
        close(c);  // frees it once nothing is in flight
        return;
    }
    if (!c.gone && !c.sending) {
        if (c.out_sent == c.out.size() && c.session.has_output()) {
            // Copy the next bytes out of the session: the kernel reads them
            // later, while the session goes on.
            c.out.clear();
            c.out_sent = 0;
            while (c.out.size() < send_chunk && c.session.has_output()) {
                const std::string_view bytes = c.session.output();
                const std::size_t take = std::min(bytes.size(), send_chunk - c.out.size());
                c.out.append(bytes.substr(0, take));
                c.session.consume(take);
            }
        }
        if (c.out_sent < c.out.size()) submit_send(c);
    }
    if (!c.gone && !c.receiving && !c.waiting_buffer && c.session.wants_input()) submit_recv(c);
    if (done(c)) close(c);
}

void Server::cancel(std::uint64_t request) {
    io_uring_sqe& sqe = ring_.next_sqe();
    ::io_uring_prep_cancel64(&sqe, request, 0);
    ::io_uring_sqe_set_data64(&sqe, tag(cancel_kind));
}

void Server::close(Connection& c) {
    if (!c.closing) {
        c.closing = true;
        // A request in flight may still complete, and name &c: cancel it,
        // and keep c (and its descriptor number) until its completion came.
        if (c.receiving) cancel(tag(recv_kind, &c));
        if (c.sending) cancel(tag(send_kind, &c));
    }
    if (c.receiving || c.sending || c.waiting_buffer) return;
    const auto slot = static_cast<std::size_t>(c.fd.get());
    by_fd_[slot].reset();  // closes the socket
    --clients_;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // Before anything else: where io_uring is disabled, say so clearly.
        if (const std::string why = csd::io_uring_unavailable(); !why.empty()) {
            std::cerr << "server: io_uring is not available here: " << why << '\n';
            return 1;
        }
        csd::raise_open_file_limit();  // thousands of clients: lift the soft limit
        // SIGTERM and SIGINT request a stop: csd::stop_fd() becomes readable
        // (for good), and a poll request in the ring completes.
        csd::route_signals({SIGTERM, SIGINT});
        Server server(csd::listen_tcp(options.host, options.port, {.nonblocking = true}));
        csd::announce_listening(options.host, options.port);
        server.run();
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
