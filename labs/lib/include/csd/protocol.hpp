#pragma once
/// @file protocol.hpp
/// @brief The wire protocol of the contract (docs/contract.md, section 1), with no I/O in it.
///
/// A Session is fed the bytes a client sent and says what to send back.
/// Blocking servers (serve_connection()) and event-driven servers (one
/// Session per connection) share it.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace csd {

/// Largest N a client may ask for: 1 GiB.
inline constexpr std::uint64_t max_request_bytes = std::uint64_t{1} << 30;
/// Longest request line, without its `\n` (a `\r` before it counts).
inline constexpr std::size_t max_line_bytes = 32;
/// Requests queued on one connection before the server stops reading
/// from it (back-pressure: a client cannot make the server queue more).
inline constexpr std::size_t max_queued_requests = 64;

/// Byte @p i of every reply: 'a' + i % 26.
[[nodiscard]] constexpr char reply_byte(std::uint64_t i) noexcept {
    return static_cast<char>('a' + i % 26);
}

/// Index of the first byte of @p got that differs from the reply bytes
/// starting at reply offset @p offset, or got.size() when all match.
[[nodiscard]] std::size_t first_mismatch(std::string_view got, std::uint64_t offset) noexcept;

/// Parses one request line (without `\n`, a trailing `\r` allowed).
/// Returns N, or 0 when the line is malformed (empty, not digits only,
/// N = 0, N > max_request_bytes, longer than max_line_bytes).
[[nodiscard]] std::uint64_t parse_request(std::string_view line) noexcept;

/// The protocol state of one connection.
///
/// Feed it what was read (feed(), end_of_input()); send what output()
/// shows and report it with consume(). Replies are produced from a small
/// shared pattern buffer, so a 1 GiB reply costs no memory. Not
/// thread-safe: one thread at a time per Session.
class Session {
public:
    /// Adds bytes received from the client. Complete lines become queued
    /// requests; a malformed line stops the session (see malformed()):
    /// requests before it are still answered, nothing after it.
    void feed(std::string_view bytes);
    /// The client closed its sending side. A partial line is dropped.
    void end_of_input() noexcept;

    /// The next bytes to send (empty when nothing is pending). The view
    /// stays valid until the next call of a non-const member.
    [[nodiscard]] std::string_view output();
    /// @p n bytes of the last output() were sent.
    void consume(std::size_t n);

    /// True while reading more is useful and allowed: no malformed input,
    /// no end of input, fewer than max_queued_requests queued.
    [[nodiscard]] bool wants_input() const noexcept;
    /// True when a reply is waiting to be sent.
    [[nodiscard]] bool has_output() const noexcept;
    /// True when the connection should be closed now: nothing left to
    /// send and no more input expected (malformed or end of input).
    [[nodiscard]] bool finished() const noexcept;
    /// True once a malformed request was seen.
    [[nodiscard]] bool malformed() const noexcept { return malformed_; }
    /// Requests received and not yet completely answered.
    [[nodiscard]] std::size_t queued() const noexcept { return replies_.size(); }

private:
    std::deque<std::uint64_t> replies_;  // bytes still owed, per request
    std::uint64_t front_offset_ = 0;     // reply bytes of replies_.front() already sent
    std::string line_;                   // partial request line
    std::string batch_;                  // several short replies coalesced
    std::size_t batch_pos_ = 0;          // bytes of batch_ already sent
    bool malformed_ = false;
    bool eof_ = false;
};

}  // namespace csd
