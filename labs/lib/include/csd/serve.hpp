#pragma once
/// @file serve.hpp
/// @brief Serving one connection with blocking I/O, for the process labs
/// (fork, prefork, fdpass) and the thread labs (thread, prethread).

namespace csd {

/// How serve_connection() ended.
enum class ConnectionEnd {
    closed,     ///< The client closed and every request was answered.
    malformed,  ///< A malformed request: the connection was dropped.
    peer_gone,  ///< The client reset or vanished mid-way.
    stopped,    ///< A stop was requested (stop_requested(), stop_fd()).
};

/// Serves the protocol on the socket @p fd (blocking or not) until the
/// client is done or a stop is requested, then returns; the caller closes
/// @p fd. It waits in poll() on the socket and stop_fd() together, so it
/// returns promptly on a stop even while the client is idle or does not
/// read. Writes use MSG_NOSIGNAL. Unexpected errors throw
/// std::system_error. May be called from any thread, one per connection.
ConnectionEnd serve_connection(int fd);

}  // namespace csd
