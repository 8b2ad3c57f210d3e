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

namespace csd::grade {

/// What went wrong with an expected reply.
enum class ReplyProblem {
    wrong_byte,  ///< A byte was not 'a' + i % 26.
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
    /// > 0: stop reading for 300 ms once this many bytes arrived, so the
    /// server's socket buffer fills.
    std::uint64_t pause_at = 0;
    /// > 0: read at most this many bytes at a time (a slow reader)...
    std::size_t piece = 0;
    /// ... and wait this long (scaled) after each read.
    std::chrono::microseconds gap{0};
};

/// Reads exactly @p n reply bytes and checks every one (expected_reply_byte()), at
/// O(1) memory, so a 1 GiB reply can be checked whole. @p what names the
/// request in messages ("request 4000 on connection 2"). @p how may pause
/// or pace the reading, so the server's socket buffer fills and its writes
/// come up short: a server that mishandles partial writes is then caught.
/// Throws ReplyFailed.
void expect_reply(Connection& conn, std::uint64_t n, Deadline deadline, std::string_view what,
                  const Reading& how);

/// expect_reply() with a pause of 300 ms at @p pause_at bytes when > 0.
void expect_reply(Connection& conn, std::uint64_t n, Deadline deadline, std::string_view what,
                  std::uint64_t pause_at = 0);

/// Makes every reply the grader expects cycle through @p cycle instead of
/// the alphabet: byte i of a reply is cycle[i % cycle.size()] (a lab that
/// serves a file, docs/contract.md section 6); empty: the alphabet again.
/// Called by the runner before the checks start, never while they run.
void set_reply_cycle(std::string cycle);

/// Byte @p i of every reply: 'a' + i % 26, or that of set_reply_cycle().
[[nodiscard]] char expected_reply_byte(std::uint64_t i) noexcept;

/// Index of the first byte of @p got that is not the reply byte at
/// offset @p offset + i, or got.size(): csd::first_mismatch(), but with
/// memcmp against a pattern, fast enough for a gigabyte. Follows
/// set_reply_cycle().
[[nodiscard]] std::size_t reply_mismatch(std::string_view got, std::uint64_t offset) noexcept;

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
/// expect_reply() for a lab's replies: the header line first when
/// @p lab has one (LabInfo::header_line).
void expect_lab_reply(const LabInfo& lab, Connection& conn, std::uint64_t n, Deadline deadline,
                      std::string_view what);
/// Reads until the server closes (EOF or RST) or @p deadline.
[[nodiscard]] Closing wait_closed(Connection& conn, Deadline deadline);

/// The server must close (EOF or RST) before @p deadline and send no byte
/// first. @p after says after what ("after the half-close").
void expect_closed(Connection& conn, Deadline deadline, std::string_view after);

/// Opens a fresh connection, requests @p n bytes, checks the reply, closes.
void fetch(std::uint16_t port, std::uint64_t n, Deadline deadline, std::string_view what);
/// fetch() for a lab's replies (expect_lab_reply()).
void fetch(const LabInfo& lab, std::uint16_t port, std::uint64_t n, Deadline deadline,
           std::string_view what);

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
