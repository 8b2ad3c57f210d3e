// Lab "cork": a server whose small replies leave as one TCP segment.
//
// The protocol (docs/contract.md, section 6, "cork"): the requests of
// section 1; each reply is a header line, N in decimal and '\n', then the N
// bytes of section 1. The server writes the header and the body with two
// separate calls, with TCP_NODELAY on; TCP_CORK around each reply makes a
// small reply leave as one segment, as soon as it is complete. The
// handout, labs/cork/handout.md, explains every step; the TODOs below name
// them.
//
// Given: the command line, the listener, the accept loop, wait_for() and
// the reply bytes, SIGTERM.
// Yours: TCP_NODELAY (handout step 1), the cork (step 2), writing a whole
// buffer through partial writes (step 3), the reply as a header line and a
// body written apart (step 4), corked (step 5), and answering the requests
// of a connection (step 6).

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "csd/base.hpp"
#include "csd/protocol.hpp"  // the cork lab links csd::lab_protocol: parse_request()

namespace {

/// The reply bytes from offset 0, a bit more than 64 KiB: the bytes from
/// offset `off` on are at reply_pattern()[off % 26].
std::string_view reply_pattern() {
    static const std::string bytes = [] {
        std::string s(26 * 2522, '\0');
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = csd::reply_byte(i);
        return s;
    }();
    return bytes;
}

/// Waits until @p fd has one of @p events or a stop is requested; true in
/// the first case.
bool wait_for(int fd, short events) {
    for (;;) {
        if (csd::stop_requested()) return false;
        std::array<pollfd, 2> fds{{{fd, events, 0}, {csd::stop_fd(), POLLIN, 0}}};
        const int n = ::poll(fds.data(), fds.size(), -1);
        if (n < 0 && errno != EINTR) csd::throw_errno("poll");
        if (n > 0 && fds[1].revents != 0) return false;
        if (n > 0 && fds[0].revents != 0) return true;
    }
}

/// Writes all of @p data to the non-blocking socket @p fd, in as many
/// write() calls as it takes. False when the client left or a stop came.
bool write_all(int fd, std::string_view data) {
    // TODO(handout step 3): csd::write_some() writes what the socket takes,
    // maybe only a part: write the rest until nothing is left. When the
    // socket is full (a body larger than the send buffer, a slow reader),
    // wait for room with wait_for(); the cork stays on meanwhile. False when
    // the client left or a stop came.
    (void)wait_for;
    (void)fd;
    (void)data;
    return false;
}

/// Sets TCP_CORK on @p fd when @p on, clears it otherwise.
void set_cork(int fd, bool on) {
    // TODO(handout step 2): turn the socket's cork on or off (the TCP_CORK
    // option of tcp(7), set with setsockopt(2); fail loudly). Clearing it
    // sends what it held at once.
    (void)fd;
    (void)on;
}

/// Sends the reply to a request for @p n bytes: the header line, then the
/// body, each with its own write() calls. False when the client left or a
/// stop came.
bool send_reply(int fd, std::uint64_t n) {
    // TODO(handout step 4): the reply, in two parts written apart: the
    // header line (n in decimal, then '\n') with its own write_all(), then
    // the n body bytes (reply_pattern(): byte i of the body is the
    // pattern's byte i % 26), in pieces of at most the pattern's size.
    // Stop when the client left or a stop came (write_all() says false).
    // TODO(handout step 5): cork before the header and uncork after the
    // body, on every path out, so that the reply leaves as one segment as
    // soon as it is complete (and not 200 ms later).
    (void)set_cork;  // yours to call: before the header, after the body
    (void)write_all;
    (void)reply_pattern;
    (void)fd;
    (void)n;
    return false;  // no reply: the connection ends
}

/// Serves the requests of @p fd until the client closes, a request is
/// malformed, the client leaves or a stop comes.
void serve_client(int fd) {
    // TODO(handout step 1): no Nagle on this connection (TCP_NODELAY,
    // tcp(7)): every write goes out at once, so only the cork can group the
    // header with the body.
    // TODO(handout step 6): read the requests and answer each complete line
    // in order with send_reply(), also the lines that came together in one
    // read (pipelining). Stop at a malformed request (no reply), a line too
    // long, the end of the client's input, a client that left or a stop.
    (void)send_reply;
    (void)fd;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // SIGTERM and SIGINT set csd::stop_requested() and wake every wait.
        csd::route_signals({SIGTERM, SIGINT});
        csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);
        while (!csd::stop_requested()) {
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Accepted accepted =
                csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(100));  // do not spin
                continue;
            }
            if (accepted.connection) serve_client(accepted.connection.get());
        }
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
