#pragma once
/// @file serve.hpp
/// @brief Serving one connection with blocking I/O, for the process labs
/// (fork) and the thread labs (coming).

namespace csd {

/// How serve_connection() ended.
enum class ConnectionEnd {
    closed,     ///< The client closed and every request was answered.
    malformed,  ///< A malformed request: the connection was dropped.
    peer_gone,  ///< The client reset or vanished mid-way.
    stopped,    ///< A stop was requested (stop_requested()) while waiting.
};

/// Serves the protocol on the blocking socket @p fd until the client is
/// done, then returns; the caller closes @p fd. Writes use MSG_NOSIGNAL.
/// EINTR is retried unless a stop was requested. Unexpected errors throw
/// std::system_error. May be called from any thread, one per connection.
ConnectionEnd serve_connection(int fd);

}  // namespace csd
