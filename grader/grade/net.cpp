#include "net.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "csd/error.hpp"
#include "failure.hpp"

namespace csd::grade {
namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// Waits for @p events on @p fd until @p deadline; returns revents, 0 on timeout.
short wait_for(int fd, short events, Deadline deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, deadline.poll_ms());
        if (n > 0) return p.revents;
        if (n == 0) return 0;
        if (errno != EINTR) csd::throw_errno("poll");
    }
}

}  // namespace

Connection Connection::begin_open(std::uint16_t port, Window window) {
    csd::Fd fd(
        csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket"));
    if (window != Window::normal) {
        const int rcvbuf = window == Window::tiny ? 1 : 4096;  // the kernel doubles it (or
                                                               // raises it to its minimum)
        const int mss = 536;                                   // the IPv4 default MSS of RFC 1122
        csd::check(::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf),
                   "setsockopt(SO_RCVBUF)");
        csd::check(::setsockopt(fd.get(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss),
                   "setsockopt(TCP_MAXSEG)");
    }
    const sockaddr_in addr = loopback(port);
    // sockaddr_in is the documented way to pass an IPv4 address to connect(2).
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR) return Connection(std::move(fd), errno);
    return Connection(std::move(fd));
}

int Connection::finish_connect(Deadline deadline) {
    if (connect_error_ != 0) return connect_error_;
    const short ev = wait_for(fd_.get(), POLLOUT, deadline);
    if (ev == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    csd::check(::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len), "getsockopt");
    return err;
}

Connection Connection::open(std::uint16_t port, Deadline deadline, Window window) {
    Connection c = begin_open(port, window);
    const int err = c.finish_connect(deadline);
    if (err == ETIMEDOUT) {
        fail(
            fmt::format("could not connect to 127.0.0.1:{}: no answer in time (is the server "
                        "stuck, or is its listen backlog full?)",
                        port));
    }
    if (err != 0) {
        fail(fmt::format("could not connect to 127.0.0.1:{}: {}", port, std::strerror(err)));
    }
    return c;
}

void Connection::send_all(std::string_view data, Deadline deadline, std::string_view what) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const long n = send_some(data.substr(sent));
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0) {
            if (errno == EPIPE || errno == ECONNRESET) {
                fail(
                    fmt::format("{}: the server closed the connection while the request was "
                                "being sent ({} of {} bytes sent)",
                                what, sent, data.size()));
            }
            csd::throw_errno("send");
        }
        if (wait_for(fd_.get(), POLLOUT, deadline) == 0) {
            fail(
                fmt::format("{}: the server stopped reading: only {} of {} request bytes could "
                            "be sent in time",
                            what, sent, data.size()));
        }
    }
}

long Connection::send_some(std::string_view data) {
    for (;;) {
        const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) return static_cast<long>(n);
        if (errno == EINTR) continue;
        if (csd::would_block(errno)) return 0;
        return -1;
    }
}

ReadResult Connection::read_some(char* buf, std::size_t size, Deadline deadline) {
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buf, size, 0);
        if (n > 0) return {ReadStatus::data, static_cast<std::size_t>(n), 0};
        if (n == 0) return {ReadStatus::eof, 0, 0};
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return {ReadStatus::reset, 0, 0};
        if (!csd::would_block(errno)) return {ReadStatus::error, 0, errno};
        if (wait_for(fd_.get(), POLLIN, deadline) == 0) return {ReadStatus::timeout, 0, 0};
    }
}

void Connection::shutdown_write() {
    ::shutdown(fd_.get(), SHUT_WR);
}

void Connection::set_nodelay() {
    const int on = 1;
    csd::check(::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), "setsockopt");
}

void Connection::reset() {
    if (!fd_) return;
    const linger lin{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    fd_.reset();
}

std::uint16_t Connection::local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    // getsockname(2) fills the sockaddr_in through a sockaddr pointer.
    if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) return 0;
    return ntohs(addr.sin_port);
}

std::string request_line(std::uint64_t n) {
    return std::to_string(n) + "\n";
}

std::string quote(std::string_view bytes, std::size_t max) {
    std::string out = "\"";
    for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    if (bytes.size() > max) out += fmt::format("... ({} bytes)", bytes.size());
    return out;
}

}  // namespace csd::grade
