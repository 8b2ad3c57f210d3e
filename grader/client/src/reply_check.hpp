#pragma once
/// @file reply_check.hpp
/// @brief Checking one reply against the protocol, with no I/O in it.

#include <cstdint>
#include <string>
#include <string_view>

namespace csd::client {

/// Follows the bytes a server sends in answer to one request for
/// `expected` bytes and decides whether the reply was exact.
///
/// A reply is exact when exactly `expected` bytes arrive, byte i being
/// 'a' + i % 26, and then the server closes (end_of_input()) with
/// nothing more. The first fault is kept as a readable message.
///
/// Count-only (csd-client --count-only, as UNP's client.c): the content
/// is not checked, the reply is finished as soon as `expected` bytes
/// arrived (the client then closes without waiting for the server's EOF),
/// and bytes beyond them are ignored. Owns no resources; one thread at a time.
class ReplyCheck {
  public:
    /// Starts checking a reply of @p expected bytes (at least 1); with
    /// @p count_only only their number counts.
    explicit ReplyCheck(std::uint64_t expected, bool count_only = false) noexcept
        : expected_(expected), count_only_(count_only) {}

    /// Adds bytes the server sent. Returns false once the reply is known
    /// to be wrong (see failed()); later calls change nothing.
    bool feed(std::string_view bytes);
    /// The server closed its side. A reply still short becomes a failure.
    void end_of_input();
    /// Marks the reply failed with @p message unless it failed already
    /// (timeouts, resets and other faults seen by the caller).
    void fail(std::string message);

    /// True once all expected bytes arrived, all of them right (the
    /// latency clock stops here; the server has still to close).
    [[nodiscard]] bool complete() const noexcept { return !failed() && received_ == expected_; }
    /// True when the reply was exact and the server closed afterwards
    /// (count-only: as soon as the bytes are complete).
    [[nodiscard]] bool finished() const noexcept { return complete() && (eof_ || count_only_); }
    /// True once a fault was seen.
    [[nodiscard]] bool failed() const noexcept { return !error_.empty(); }
    /// The first fault, e.g. "byte 4096 is 'a', expected 'c'"; empty if none.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// Reply bytes received so far (those after a wrong byte excluded).
    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    /// Bytes asked for.
    [[nodiscard]] std::uint64_t expected() const noexcept { return expected_; }
    /// "X of N bytes", for messages about an interrupted reply.
    [[nodiscard]] std::string progress() const;

  private:
    std::uint64_t expected_;
    bool count_only_;
    std::uint64_t received_ = 0;
    bool eof_ = false;
    std::string error_;
};

/// A byte as it appears in messages: `'a'` when printable, `'\x0a'` otherwise.
[[nodiscard]] std::string describe_byte(char byte);

}  // namespace csd::client
