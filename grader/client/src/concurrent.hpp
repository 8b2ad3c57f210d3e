#pragma once
/// @file concurrent.hpp
/// @brief Many connections open at once in one process, driven by epoll.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "address.hpp"
#include "outcome.hpp"

namespace csd::client {

/// Opens a batch of connections at once, all non-blocking, and drives
/// them with one epoll instance: connect, send `BYTES\n`, read and check
/// the reply, half-close, expect EOF. Each connection has its own
/// deadline counted from its connect. Owns its epoll descriptor and
/// sockets only while run() runs; one thread at a time.
class ConcurrentConnector {
  public:
    /// Called once per connection as it ends: its index in the batch (from 0) and outcome.
    using OnDone = std::function<void(std::uint64_t index, const Outcome& outcome)>;

    /// Connections to @p address asking for @p bytes, each within @p timeout;
    /// @p count_only: count the reply bytes only (see ReplyCheck).
    ConcurrentConnector(const Address& address, std::uint64_t bytes, Clock::duration timeout,
                        bool count_only = false);

    /// Opens @p count connections at once and runs them all to their end.
    /// The caller must have raised RLIMIT_NOFILE for @p count sockets
    /// (a socket() that fails is reported as that connection's failure).
    void run(std::uint64_t count, const OnDone& on_done);

  private:
    enum class Phase : std::uint8_t { connecting, sending, receiving, done };
    struct Slot {
        Slot(std::uint64_t bytes, bool count_only) : check(bytes, count_only) {}
        Fd socket;
        ReplyCheck check;
        Clock::time_point start{};
        Clock::time_point last_byte{};
        std::size_t sent = 0;
        Phase phase = Phase::connecting;
        bool half_closed = false;
    };

    void start(std::uint64_t index);
    void handle(std::uint64_t index);
    void send_request(std::uint64_t index);
    void receive(std::uint64_t index);
    void finish(std::uint64_t index, const Outcome& outcome);
    void finish(std::uint64_t index, std::string error);
    [[nodiscard]] std::string reply_or_connect_timeout(std::uint64_t index) const;

    Address address_;
    std::uint64_t bytes_;
    Clock::duration timeout_;
    bool count_only_;
    std::string request_;
    std::vector<char> buffer_;
    // Only while run() runs:
    Fd epoll_;
    std::vector<Slot> slots_;
    std::uint64_t active_ = 0;
    const OnDone* on_done_ = nullptr;
};

}  // namespace csd::client
