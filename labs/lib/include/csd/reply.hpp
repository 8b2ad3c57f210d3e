#pragma once
/// @file reply.hpp
/// @brief The limits and the reply bytes of the protocol (docs/contract.md,
/// section 1): what every lab may use, the iterative lab included. The
/// parser and the protocol state are in protocol.hpp.

#include <cstddef>
#include <cstdint>
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

}  // namespace csd
