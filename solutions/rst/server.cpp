// Lab "rst": a server that ends every connection with an RST.
//
// The protocol (docs/contract.md, section 6, "rst"): a client sends one
// request "N\n" and gets N bytes, as in section 1. Then the server waits
// until the client's TCP has acknowledged every byte of the reply and
// closes with SO_LINGER {on, 0 s}: the connection ends with an RST instead
// of a FIN, and no TIME_WAIT is left on the server's side. The handout,
// labs/rst/handout.md, explains every step; the TODOs below name them.
//
// Given: the command line, the listener, the accept loop, reading the
// request line, the reply bytes, SIGTERM.
// Yours: the abortive close (handout step 1), waiting until the reply is
// acknowledged before it (step 2), the waits bounded by the client's
// deadline (step 3), writing the reply (step 4) and serving one client from
// its request to its RST (step 5).

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
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
#include "csd/protocol.hpp"  // the rst lab links csd::lab_protocol: parse_request()

namespace {

using Clock = std::chrono::steady_clock;

/// The longest one client may keep the server: reading its request,
/// writing its reply and waiting for the acknowledgement together.
constexpr std::chrono::seconds client_time{10};

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

/// Waits until @p fd has one of @p events, a stop is requested or
/// @p deadline passes. True only in the first case.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    // TODO(handout step 3): every wait for one client is bounded twice: by
    // its deadline, so that a client that sends nothing or never reads
    // cannot hold the server, and by a stop (SIGTERM). Wait for the socket
    // and for csd::stop_fd() at once (poll(2)), never longer than the time
    // left; a signal may cut a wait short (EINTR): wait again.
    // SKELETON: (void)fd;
    // SKELETON: (void)events;
    // SKELETON: (void)deadline;
    // SKELETON: return false;  // no wait: every client is dropped at once
    // BEGIN SOLUTION
    for (;;) {
        if (csd::stop_requested()) return false;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        std::array<pollfd, 2> fds{{{fd, events, 0}, {csd::stop_fd(), POLLIN, 0}}};
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) csd::throw_errno("poll");
        if (n > 0 && fds[1].revents != 0) return false;
        if (n > 0 && fds[0].revents != 0) return true;
    }
    // END SOLUTION
}

/// Reads the request line from the non-blocking socket @p fd. Returns its
/// N, or 0 when it is malformed, or the client left, stalled or a stop came.
/// Bytes after the first line are ignored: one request per connection.
std::uint64_t read_request(int fd, Clock::time_point deadline) {
    std::string line;
    std::array<char, 64> buf{};
    while (line.find('\n') == std::string::npos) {
        if (line.size() > csd::max_line_bytes) return 0;  // 33 bytes and no '\n'
        if (!wait_for(fd, POLLIN, deadline)) return 0;
        const csd::ReadResult r = csd::read_some(fd, buf.data(), buf.size());
        if (r.status == csd::ReadStatus::eof || r.status == csd::ReadStatus::peer_gone) return 0;
        if (r.status == csd::ReadStatus::ok) line.append(buf.data(), r.bytes);
    }
    return csd::parse_request(std::string_view(line).substr(0, line.find('\n')));
}

/// Writes the N-byte reply to the non-blocking socket @p fd. False when
/// the client left, stalled or a stop came first.
bool write_reply(int fd, std::uint64_t n, Clock::time_point deadline) {
    // TODO(handout step 4): write the n reply bytes (byte i of the reply is
    // byte i % 26 of reply_pattern()) with csd::write_some(), as much as the
    // socket takes each time. When it is full, wait for room with
    // wait_for(), so that a client that never reads is given up at its
    // deadline. Give up when the client left.
    // SKELETON: (void)reply_pattern;
    // SKELETON: (void)fd;
    // SKELETON: (void)n;
    // SKELETON: (void)deadline;
    // SKELETON: return false;  // no reply
    // BEGIN SOLUTION
    const std::string_view pattern = reply_pattern();
    std::uint64_t sent = 0;
    while (sent < n) {
        const std::size_t skip = static_cast<std::size_t>(sent % 26);
        const std::size_t size =
            static_cast<std::size_t>(std::min<std::uint64_t>(n - sent, pattern.size() - 26));
        const csd::WriteResult w = csd::write_some(fd, pattern.substr(skip, size));
        if (w.status == csd::WriteStatus::peer_gone) return false;
        if (w.status == csd::WriteStatus::ok) {
            sent += w.bytes;
        } else if (w.status == csd::WriteStatus::would_block && !wait_for(fd, POLLOUT, deadline)) {
            return false;
        }
    }
    return true;
    // END SOLUTION
}

/// Waits until the client's TCP has acknowledged every byte written to
/// @p fd. False when a stop came or @p deadline passed first.
bool wait_acknowledged(int fd, Clock::time_point deadline) {
    // TODO(handout step 2): an abortive close throws away what the send
    // queue still holds. Ask the kernel how many bytes are not acknowledged
    // yet (ioctl SIOCOUTQ, see man 7 tcp) until it says 0, sleeping a
    // millisecond in between (csd::wait_for_stop()), up to the deadline.
    // SKELETON: (void)fd;
    // SKELETON: (void)deadline;
    // SKELETON: return true;
    // BEGIN SOLUTION
    for (;;) {
        int unacknowledged = 0;
        csd::check_rc(::ioctl(fd, SIOCOUTQ, &unacknowledged), "ioctl(SIOCOUTQ)");
        if (unacknowledged == 0) return true;
        if (Clock::now() >= deadline) return false;
        if (csd::wait_for_stop(std::chrono::milliseconds(1))) return false;
    }
    // END SOLUTION
}

/// Ends the connection @p conn with an RST: no FIN, no TIME_WAIT.
void close_with_rst(csd::Fd conn) {
    // TODO(handout step 1): set SO_LINGER to {on, 0 seconds} (struct
    // linger, man 7 socket); then close() sends an RST instead of a FIN.
    // SKELETON: conn.reset();  // a normal close: FIN, then TIME_WAIT here
    // BEGIN SOLUTION
    const linger abort{1, 0};
    csd::check_rc(::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort),
                  "setsockopt(SO_LINGER)");
    conn.reset();
    // END SOLUTION
}

/// Serves the one request of @p conn, then resets it, even when the
/// request was malformed or the client stalled.
void serve_client(csd::Fd conn) {
    // TODO(handout step 5): one client from start to end, within its
    // client_time: read its request, write the reply, wait until it is
    // acknowledged, and reset the connection. Every way out ends with the
    // RST: a malformed request (no reply), a client that left, stalled or
    // took too long, a stop.
    // SKELETON: (void)client_time;
    // SKELETON: (void)read_request;
    // SKELETON: (void)write_reply;
    // SKELETON: (void)wait_acknowledged;
    // SKELETON: (void)close_with_rst;
    // SKELETON: conn.reset();  // a normal close: FIN, then TIME_WAIT here
    // BEGIN SOLUTION
    const auto deadline = Clock::now() + client_time;
    const std::uint64_t n = read_request(conn.get(), deadline);
    if (n > 0 && write_reply(conn.get(), n, deadline)) {
        (void)wait_acknowledged(conn.get(), deadline);
    }
    close_with_rst(std::move(conn));
    // END SOLUTION
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
            if (accepted.connection) serve_client(std::move(accepted.connection));
        }
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
