#pragma once
/// @file expect.hpp
/// @brief Protocol-level expectations on a Connection: an exact reply, a
/// close with no extra bytes. Each throws CheckFailed with a message that
/// says precisely what arrived instead.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "deadline.hpp"
#include "failure.hpp"
#include "net.hpp"
#include "registry.hpp"
#include "reply_format.hpp"

namespace csd::grade {

/// What went wrong with an expected reply.
enum class ReplyProblem {
    wrong_byte,  ///< A byte was not the reply's (ReplyFormat::byte()).
    closed,      ///< EOF before the last byte.
    reset,       ///< RST before the last byte.
    stalled,     ///< No more bytes until the deadline.
    error,       ///< Another read error.
};

/// The CheckFailed thrown by expect_reply(): says which problem it was, so
/// a check can give the hint that fits. A plain value: any thread.
class ReplyFailed : public CheckFailed {
  public:
    /// A failure showing @p saw, of kind @p problem.
    ReplyFailed(const std::string& saw, ReplyProblem problem)
        : CheckFailed(saw), problem_(problem) {}
    /// What went wrong.
    [[nodiscard]] ReplyProblem problem() const noexcept { return problem_; }

  private:
    ReplyProblem problem_;
};

/// How expect_reply() reads a reply.
struct Reading {
    /// > 0: stop reading for `pause` once this many bytes arrived, so the
    /// server's socket buffer fills.
    std::uint64_t pause_at = 0;
    /// How long that pause lasts (scaled).
    std::chrono::milliseconds pause{300};
    /// > 0: read at most this many bytes at a time (a slow reader)...
    std::size_t piece = 0;
    /// ... and wait this long (scaled) after each read.
    std::chrono::microseconds gap{0};
};

/// Reads the reply to a request for @p n bytes in @p format (its header
/// line first, when the format has one) and checks every byte, at O(1)
/// memory, so a 1 GiB reply can be checked whole. @p what names the request
/// in messages ("request 4000 on connection 2"). @p how may pause or pace
/// the reading, so the server's socket buffer fills and its writes come up
/// short: a server that mishandles partial writes is then caught. Throws
/// ReplyFailed (CheckFailed for a wrong header line).
void expect_reply(const ReplyFormat& format, Connection& conn, std::uint64_t n, Deadline deadline,
                  std::string_view what, const Reading& how);

/// expect_reply() with a pause of 300 ms at @p pause_at bytes when > 0.
void expect_reply(const ReplyFormat& format, Connection& conn, std::uint64_t n, Deadline deadline,
                  std::string_view what, std::uint64_t pause_at = 0);

/// How a connection ended, as seen by wait_closed().
struct Closing {
    ReadStatus how = ReadStatus::timeout;  ///< eof, reset, timeout or error.
    std::size_t extra = 0;                 ///< Bytes that arrived before the end.
    std::string first;                     ///< The first of those bytes.
};

/// Reads the header line of a reply to a request for @p n bytes ("N\n",
/// docs/contract.md section 6, cork) byte by byte, so that no byte of the
/// body is taken. Throws CheckFailed.
void expect_header_line(Connection& conn, std::uint64_t n, Deadline deadline,
                        std::string_view what);
/// Reads until the server closes (EOF or RST) or @p deadline.
[[nodiscard]] Closing wait_closed(Connection& conn, Deadline deadline);

/// The server must close (EOF or RST) before @p deadline and send no byte
/// first. @p after says after what ("after the half-close").
void expect_closed(Connection& conn, Deadline deadline, std::string_view after);

/// Opens a fresh connection, requests @p n bytes, checks the reply in
/// @p format (expect_reply()), closes.
void fetch(const ReplyFormat& format, std::uint16_t port, std::uint64_t n, Deadline deadline,
           std::string_view what);

/// Reads the replies of @p sizes[i] bytes in @p format (each after its
/// header line, when the format has one) on @p conns[i] all at once
/// (poll), checking every byte, until all are complete or @p deadline;
/// calls @p tick first and then about every 20 ms (to sample /proc while
/// the server is busy). Each connection is closed once its reply is
/// complete (so an iterative server goes on to the next one), right after
/// @p complete (when given) is called with it. @p what names the group in
/// messages.
void expect_replies_together(const ReplyFormat& format, std::vector<Connection>& conns,
                             const std::vector<std::uint64_t>& sizes, Deadline deadline,
                             std::string_view what, const std::function<void()>& tick,
                             const std::function<void(const Connection&)>& complete = {});

}  // namespace csd::grade
