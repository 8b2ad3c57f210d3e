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

#include "csd/reply.hpp"

namespace csd {

/// Parses one request line (without `\n`, a trailing `\r` allowed).
/// Returns N, or 0 when the line is malformed (empty, not digits only,
/// N = 0, N > max_request_bytes, longer than max_line_bytes with the `\r`
/// counted). Leading zeros are digits: "0004" is 4.
[[nodiscard]] std::uint64_t parse_request(std::string_view line) noexcept;

/// The protocol state of one connection.
///
/// Feed it what was read (feed(), end_of_input()); send what output()
/// shows and report it with consume(). Replies are produced from a small
/// shared pattern buffer, so a 1 GiB reply costs no memory. Not
/// thread-safe: one thread at a time per Session.
class Session {
  public:
    /// Adds bytes received from the client and returns how many it took:
    /// complete lines become queued requests, up to max_queued_requests;
    /// from there on it takes nothing more, and the caller keeps the rest
    /// for later (reading at most input_room() bytes avoids that). A
    /// malformed line stops the session for good (see malformed()):
    /// requests before it are still answered; it and everything after it
    /// (like anything fed after end_of_input()) is taken and dropped.
    [[nodiscard]] std::size_t feed(std::string_view bytes);
    /// The client closed its sending side. A partial line is dropped.
    void end_of_input() noexcept;

    /// The next bytes to send (empty when nothing is pending). The view
    /// stays valid until the next call of a non-const member.
    [[nodiscard]] std::string_view output();
    /// @p n bytes of the last output() were sent. A server that sends the
    /// replies itself (from a file, with sendfile(2)) and never calls
    /// output() reports here the bytes it sent of the front reply, at most
    /// reply_left().
    void consume(std::size_t n);

    /// Bytes of the front reply already sent (its offset: the next byte to
    /// send is reply_byte(reply_offset())). 0 when no reply is queued, and
    /// while several short replies that output() copied together are
    /// being sent (they are no longer queued: send them first).
    [[nodiscard]] std::uint64_t reply_offset() const noexcept;
    /// Bytes of the front reply still to send: 0 when none is queued, and
    /// while short replies copied together by output() are being sent.
    [[nodiscard]] std::uint64_t reply_left() const noexcept;

    /// True while reading more is useful and allowed: no malformed input,
    /// no end of input, fewer than max_queued_requests queued.
    [[nodiscard]] bool wants_input() const noexcept;
    /// The most bytes the next feed() is sure to take, all of them: room
    /// for the requests that may still be queued (each complete line is at
    /// least 2 bytes, the first may end a partial line with 1). 0 when
    /// wants_input() is false. Read at most this much.
    [[nodiscard]] std::size_t input_room() const noexcept;
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
