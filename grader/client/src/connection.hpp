#pragma once
/// @file connection.hpp
/// @brief One connection, one request, one checked reply, with a deadline.

#include <cstdint>
#include <string>
#include <vector>

#include "address.hpp"
#include "outcome.hpp"

namespace csd::client {

/// Runs connections one after another: connect, send `BYTES\n`, read and
/// check the reply, half-close, expect EOF. Every wait is a poll(2) bounded
/// by the connection's deadline, so a hung server fails that connection
/// and never hangs the client. Owns a read buffer; one thread at a time.
class SequentialConnector {
  public:
    /// Connections to @p address asking for @p bytes, each within @p timeout;
    /// @p count_only: count the reply bytes only (see ReplyCheck).
    SequentialConnector(const Address& address, std::uint64_t bytes, Clock::duration timeout,
                        bool count_only = false);

    /// Runs one connection to its end and says how it went. Only
    /// unexpected system errors throw.
    [[nodiscard]] Outcome run();

  private:
    Address address_;
    std::uint64_t bytes_;
    Clock::duration timeout_;
    bool count_only_;
    std::string request_;  // "BYTES\n", the same for every connection
    std::vector<char> buffer_;
};

}  // namespace csd::client
