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
// (csd::BufferRing, set up and torn down), the listening socket, SIGTERM
// routed to the stop descriptor, what a request's user_data says (Kind),
// and the declarations of the Connection and of the Server.
// Yours: the whole SQE/CQE cycle. The user_data of each request, the ring's
// first requests (the stop poll, the multishot accept), the loop that
// submits, waits, reaps and dispatches, what the accept's completions mean
// (and re-arming it), the recv into a provided buffer and its completion,
// the send and its completion (a short send is resubmitted), a connection's
// turn, and closing it (cancelling what it still has in flight).

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
    // TODO(handout step 1): the kind in the low 3 bits, the address of c in
    // the others (a Connection is aligned to 8 bytes: the low 3 bits of its
    // address are 0; no connection: 0). on_completion() takes them apart.
    (void)c;
    return kind;
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
    // TODO(handout step 2): the ring's first requests, which the loop's
    // first io_uring_enter submits. SIGTERM makes csd::stop_fd() readable
    // for good: a poll request for input on it completes then, and wakes
    // the loop like any other completion (tag it as the stop). And the
    // multishot accept.
    (void)&tag;  // yours to write and to use
    (void)&Server::submit_accept;
}

void Server::run() {
    // TODO(handout step 3): the loop. Submit what was queued and sleep until
    // a completion is there (ring_.submit_and_wait(); false: a signal
    // interrupted the wait, go round). Then take every completion there is
    // without sleeping (io_uring_peek_cqe(3)): copy it, mark it seen (its
    // slot is the kernel's again), and hand the copy to on_completion(),
    // which says when to stop. After the batch, the connections whose recv
    // found no free buffer (no_buffer_) get another turn: buffers came back.
    (void)&Server::on_completion;  // yours to call
    // Until then the server sleeps until SIGTERM, and no client is served.
    while (!csd::wait_for_stop(std::chrono::hours(1))) {
    }
}

bool Server::on_completion(const io_uring_cqe& cqe) {
    // TODO(handout step 3): what the completion is about, from its
    // user_data (tag() in reverse: the Kind in the bits of kind_mask, the
    // Connection in the others), and who handles it. The stop poll ends the
    // loop (return false). The accept: on_accept(). The end of an accept
    // pause: the accept again. A recv, a send: on_recv(), on_send() with
    // their connection. A cancel request's own completion: nothing (the
    // request it cancelled completes on its own, with -ECANCELED).
    (void)cqe;
    (void)&Server::on_accept;  // yours to call
    (void)&Server::on_recv;
    (void)&Server::on_send;
    return true;
}

void Server::submit_accept() {
    // TODO(handout step 2): one multishot accept on the listener, each new
    // socket close-on-exec (io_uring_prep_multishot_accept(3)), tagged as
    // the accept: it completes once per client, for as long as its
    // completions carry IORING_CQE_F_MORE.
}

void Server::on_accept(const io_uring_cqe& cqe) {
    // TODO(handout step 4): cqe.res is a new connected socket (keep it in a
    // Connection in by_fd_[its fd], count it in clients_, serve() it;
    // beyond max_clients close it at once), or minus an error number. When
    // IORING_CQE_F_MORE is not set, the multishot accept has ended: submit
    // it again, except after EMFILE or ENFILE (csd::out_of_descriptors()):
    // then say so on stderr and pause: a timeout request of accept_pause_ns
    // (io_uring_prep_timeout(3); the kernel reads pause_), tagged as the
    // pause, whose completion re-arms the accept.
    (void)cqe;
    (void)pause_;
}

void Server::submit_recv(Connection& c) {
    // TODO(handout step 5): a recv on c.fd that brings no buffer of its own:
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
    // TODO(handout step 6): cqe.res > 0: feed() the session the bytes of
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
    // TODO(handout step 7): a send of what is left of c.out (from
    // c.out_sent on) that cannot raise SIGPIPE; tag its user_data as a send
    // of c (tag()), and note it in c.sending. c.out must not change until it
    // completes.
    (void)c;
}

void Server::on_send(Connection& c, const io_uring_cqe& cqe) {
    c.sending = false;
    // TODO(handout step 7): cqe.res bytes went out: add them to c.out_sent
    // (serve() sends the rest: a short send is resubmitted). An error
    // (EPIPE, ECONNRESET) means the client is gone; -ECANCELED, that close()
    // cancelled it.
    (void)cqe;
    serve(c);
}

bool Server::done(const Connection& c) {
    // TODO(handout step 8): when the client is gone, or its session is
    // finished and every byte of c.out was sent.
    (void)c;
    return false;
}

void Server::serve(Connection& c) {
    // TODO(handout step 8): a connection's turn, after each of its
    // completions and once accepted. Closing: only close() again (it frees c
    // once nothing is in flight). Otherwise, unless the client is gone and
    // while no send is in flight: once all of c.out went out, copy the
    // session's next output into c.out (at most send_chunk bytes, consumed
    // from the session; the kernel reads c.out later: the handout's rule 1
    // under "The loop"); send what is left of c.out. A recv only while the
    // session wants input (back-pressure), none is in flight and none waits
    // for a buffer. Then close() c if done().
    (void)c;
    (void)&Server::submit_recv;  // yours to call
    (void)&Server::submit_send;
    (void)&Server::done;
    (void)&Server::close;
}

void Server::cancel(std::uint64_t request) {
    // TODO(handout step 9): a request that cancels the request in flight
    // whose user_data is `request` (io_uring_prep_cancel64(3)), tagged as a
    // cancel.
    (void)request;
}

void Server::close(Connection& c) {
    // TODO(handout step 9): a request in flight may still complete, and its
    // completion names c. So the first time: mark c closing and cancel
    // what it has in flight (its recv, its send: their tags name them).
    // Then, at every call (serve() calls it after each completion of c):
    // free c, which closes its socket, and count it out of clients_, only
    // once nothing is in flight and it waits for no buffer. Until then the
    // descriptor number stays c's: no accept can reuse it.
    (void)c;
    (void)clients_;
    (void)&Server::cancel;  // yours to call
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
