#pragma once
/// @file net.hpp
/// @brief Sockets: listening, accepting, socket pairs, passing descriptors,
/// and I/O results that treat "would block" and "peer gone" as normal
/// outcomes (values, not exceptions).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "csd/fd.hpp"

namespace csd {

/// Whether a new socket is blocking or non-blocking (O_NONBLOCK).
enum class IoMode {
    blocking,     ///< Calls wait until they can do something.
    nonblocking,  ///< Calls return "would block" (EAGAIN) instead of waiting.
};

/// How listen_tcp() sets up its socket.
struct ListenOptions {
    int backlog = 1024;        ///< Length of the queue of completed connections.
    bool nonblocking = false;  ///< SOCK_NONBLOCK: accept() never waits.
    bool reuse_port = false;   ///< SO_REUSEPORT: several sockets may listen on the port.
};

/// Creates a TCP socket bound to @p host and @p port, listening.
///
/// The socket is created with SOCK_CLOEXEC (and SOCK_NONBLOCK when
/// options.nonblocking), with SO_REUSEADDR so a restarted server can bind at
/// once. @p host is a numeric IPv4 or IPv6 address, or `localhost`
/// (127.0.0.1): no name is resolved, so that the lab servers link
/// statically (a static glibc cannot load the resolver). Throws
/// std::system_error naming the failed call; any other @p host has the
/// resolver_category() and EAI_NONAME.
Fd listen_tcp(const std::string& host, std::uint16_t port, const ListenOptions& options = {});

/// The local port a socket is bound to (getsockname).
std::uint16_t local_port(int fd);

/// What accept_connection() came to.
enum class AcceptStatus {
    accepted,            ///< A new connection, in Accepted::connection.
    nothing,             ///< Nothing to accept now: EAGAIN, EINTR, or a client that
                         ///< left before it was accepted (ECONNABORTED, EPROTO, EPERM).
    out_of_descriptors,  ///< EMFILE or ENFILE: the client stays in the listen queue.
                         ///< Stop accepting for a while instead of spinning.
};

/// Result of accept_connection().
struct Accepted {
    AcceptStatus status = AcceptStatus::nothing;  ///< What happened.
    Fd connection;                                ///< The new socket when accepted.
    int error = 0;                                ///< The errno when not accepted (0 if none).
};

/// Accepts one connection with accept4(SOCK_CLOEXEC [| SOCK_NONBLOCK]); the
/// new socket is in @p mode. The expected failures are results (see
/// AcceptStatus); other errors throw std::system_error.
Accepted accept_connection(int listen_fd, IoMode mode = IoMode::blocking);

/// Sets or clears O_NONBLOCK on @p fd.
void set_nonblocking(int fd, bool on = true);

/// What a read on a socket came to.
enum class ReadStatus {
    ok,           ///< ReadResult::bytes bytes were read (at least one).
    eof,          ///< The peer closed its sending side.
    would_block,  ///< Non-blocking descriptor, nothing to read now.
    interrupted,  ///< A signal arrived first (EINTR); nothing read.
    peer_gone,    ///< The peer reset or vanished (ECONNRESET...).
};

/// Result of read_some().
struct ReadResult {
    ReadStatus status;      ///< What happened.
    std::size_t bytes = 0;  ///< Bytes read when status is ok.
};

/// What a write on a socket came to.
enum class WriteStatus {
    ok,           ///< WriteResult::bytes bytes were written (maybe fewer than asked).
    would_block,  ///< Non-blocking descriptor, no room in the socket buffer now.
    interrupted,  ///< A signal arrived first (EINTR); nothing written.
    peer_gone,    ///< The peer reset or vanished (EPIPE, ECONNRESET...).
};

/// Result of write_some().
struct WriteResult {
    WriteStatus status;     ///< What happened.
    std::size_t bytes = 0;  ///< Bytes written when status is ok.
};

/// One read(2) into @p buf. Unexpected errors throw std::system_error.
ReadResult read_some(int fd, char* buf, std::size_t size);

/// One send(2) of @p data with MSG_NOSIGNAL (a vanished peer is
/// WriteStatus::peer_gone, never SIGPIPE). Unexpected errors throw.
WriteResult write_some(int fd, std::string_view data);

/// A connected pair of UNIX stream sockets (socketpair(2), AF_UNIX,
/// SOCK_CLOEXEC, SOCK_NONBLOCK in @p mode), each end owned. Throws
/// std::system_error when the call fails.
std::pair<Fd, Fd> socket_pair(IoMode mode = IoMode::blocking);

}  // namespace csd
