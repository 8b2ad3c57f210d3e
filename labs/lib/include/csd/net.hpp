#pragma once
/// @file net.hpp
/// @brief TCP sockets: listening, accepting, and I/O results that treat
/// "would block" and "peer gone" as normal outcomes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "csd/fd.hpp"

namespace csd {

/// Creates a TCP socket bound to @p host and @p port, listening.
///
/// The socket is created with SOCK_CLOEXEC (and SOCK_NONBLOCK when
/// @p nonblocking), with SO_REUSEADDR so a restarted server can bind at
/// once. @p host is a numeric IPv4 or IPv6 address or a name
/// (getaddrinfo). Throws std::system_error naming the failed call.
Fd listen_tcp(const std::string& host, std::uint16_t port, bool nonblocking = false,
              int backlog = 1024);

/// The local port a socket is bound to (getsockname).
std::uint16_t local_port(int fd);

/// Accepts one connection with accept4(SOCK_CLOEXEC [| SOCK_NONBLOCK]).
///
/// Returns an empty Fd when there is nothing to accept right now:
/// EAGAIN, EINTR, or a connection that was aborted before it was
/// accepted (ECONNABORTED, EPROTO...). Throws for real errors (EMFILE too:
/// the caller decides what to do about descriptor exhaustion).
Fd accept_connection(int listen_fd, bool nonblocking = false);

/// Sets or clears O_NONBLOCK on @p fd.
void set_nonblocking(int fd, bool on = true);

/// What a read or a write on a socket came to.
enum class IoStatus {
    ok,           ///< `bytes` bytes were transferred (at least one).
    would_block,  ///< Non-blocking descriptor, nothing to do now.
    interrupted,  ///< A signal arrived first (EINTR); nothing transferred.
    eof,          ///< Read only: the peer closed its sending side.
    peer_gone,    ///< The peer reset or vanished (ECONNRESET, EPIPE...).
};

/// Result of read_some() and write_some().
struct IoResult {
    IoStatus status;         ///< What happened.
    std::size_t bytes = 0;   ///< Bytes transferred when status is ok.
};

/// One read(2) into @p buf. Unexpected errors throw std::system_error.
IoResult read_some(int fd, char* buf, std::size_t size);

/// One send(2) of @p data with MSG_NOSIGNAL (a vanished peer is
/// IoStatus::peer_gone, never SIGPIPE). Unexpected errors throw.
IoResult write_some(int fd, std::string_view data);

}  // namespace csd
