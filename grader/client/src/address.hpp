#pragma once
/// @file address.hpp
/// @brief The server address, and starting a non-blocking connect to it.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "csd/fd.hpp"

namespace csd::client {

/// A resolved server address. Plain data; any thread.
struct Address {
    sockaddr_storage storage{};  ///< The address itself.
    socklen_t length = 0;        ///< Bytes of storage in use.
    int family = AF_INET;        ///< AF_INET or AF_INET6.
};

/// Resolves @p host (numeric or a name) and @p port with getaddrinfo;
/// the first TCP address wins. Throws std::runtime_error with the
/// getaddrinfo message when the host is unknown.
[[nodiscard]] Address resolve(const std::string& host, std::uint16_t port);

/// A connect that was started.
struct Connecting {
    Fd socket;      ///< The socket (SOCK_CLOEXEC | SOCK_NONBLOCK), empty when socket() failed.
    int error = 0;  ///< 0: connected; EINPROGRESS: wait for writable; other: failed.
};

/// Creates a non-blocking TCP socket and starts connecting it to
/// @p address. Never throws for a failed socket() or connect(): the
/// errno is in the result, since a refused or impossible connection is
/// an outcome to report, not a bug.
[[nodiscard]] Connecting start_connect(const Address& address) noexcept;

/// The pending error of a socket whose connect completed (SO_ERROR): 0
/// when connected.
[[nodiscard]] int connect_result(int fd);

/// Shuts down the sending side of @p fd. A peer that already reset the
/// connection is not an error (reading will tell); other errors throw.
void half_close(int fd);

}  // namespace csd::client
