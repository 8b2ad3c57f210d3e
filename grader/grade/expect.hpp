#pragma once
/// @file expect.hpp
/// @brief Protocol-level expectations on a Connection: an exact reply, a
/// close with no extra bytes. Each throws CheckFailed with a message that
/// says precisely what arrived instead.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "deadline.hpp"
#include "net.hpp"

namespace csd::grade {

/// Reads exactly @p n reply bytes and checks every one ('a' + i % 26).
/// @p what names the request in messages ("request 4000 on connection 2").
/// With @p pause_at > 0, stops reading for 300 ms once that many bytes
/// arrived, so the server's socket buffer fills and its writes come up
/// short: a server that mishandles partial writes is then caught for sure.
void expect_reply(Connection& conn, std::uint64_t n, Deadline deadline, std::string_view what,
                  std::uint64_t pause_at = 0);

/// How a connection ended, as seen by wait_closed().
struct Closing {
    ReadStatus how = ReadStatus::timeout;  ///< eof, reset, timeout or error.
    std::size_t extra = 0;                 ///< Bytes that arrived before the end.
    std::string first;                     ///< The first of those bytes.
};

/// Reads until the server closes (EOF or RST) or @p deadline.
[[nodiscard]] Closing wait_closed(Connection& conn, Deadline deadline);

/// The server must close (EOF or RST) before @p deadline and send no byte
/// first. @p after says after what ("after the half-close").
void expect_closed(Connection& conn, Deadline deadline, std::string_view after);

/// Opens a fresh connection, requests @p n bytes, checks the reply, closes.
void fetch(std::uint16_t port, std::uint64_t n, Deadline deadline, std::string_view what);

/// Reads the replies of @p sizes[i] bytes on @p conns[i] all at once
/// (poll), checking every byte, until all are complete or @p deadline;
/// calls @p tick first and then about every 20 ms (to sample /proc while
/// the server is busy). Each connection is closed once its reply is
/// complete (so an iterative server goes on to the next one). @p what
/// names the group in messages.
void expect_replies_together(std::vector<Connection>& conns,
                             const std::vector<std::uint64_t>& sizes, Deadline deadline,
                             std::string_view what, const std::function<void()>& tick);

}  // namespace csd::grade
