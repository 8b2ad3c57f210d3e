#include "connection.hpp"

#include <fmt/core.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string>
#include <string_view>

#include "csd/error.hpp"
#include "csd/net.hpp"

namespace csd::client {
namespace {

/// Waits until @p fd reports @p events (or an error/hangup); false when
/// @p deadline passes first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) return false;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        pollfd entry{fd, events, 0};
        const int rc = ::poll(&entry, 1, static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX)));
        if (rc > 0) return true;
        if (rc == -1 && errno != EINTR) csd::throw_errno("poll");
    }
}

}  // namespace

SequentialConnector::SequentialConnector(const Address& address, std::uint64_t bytes,
                                         Clock::duration timeout, bool count_only)
    : address_(address),
      bytes_(bytes),
      timeout_(timeout),
      count_only_(count_only),
      request_(fmt::format("{}\n", bytes)),
      buffer_(64 * 1024) {}

Outcome SequentialConnector::run() {
    const auto start = Clock::now();
    const auto deadline = start + timeout_;
    ReplyCheck check(bytes_, count_only_);
    Outcome failed;

    Connecting connecting = start_connect(address_);
    if (!connecting.socket) {
        failed.error = call_failed("socket", connecting.error);
        return failed;
    }
    const int fd = connecting.socket.get();
    std::string_view unsent = request_;
    if (connecting.error == EINPROGRESS) {
        // On loopback the handshake is usually over by the time connect()
        // returns: send the request at once, and wait for the connection
        // only when the socket says it is not there yet. That saves a poll
        // and a getsockopt per connection (a send in SYN_SENT fails with
        // EAGAIN, and with the connect's error once it failed: tcp(7)).
        const ssize_t n = ::send(fd, unsent.data(), unsent.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            connecting.error = 0;
            unsent.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (!wait_for(fd, POLLOUT, deadline)) {
                failed.error = connect_timed_out(timeout_);
                return failed;
            }
            connecting.error = connect_result(fd);
        } else {
            connecting.error = errno;
        }
    }
    if (connecting.error != 0) {
        failed.error = call_failed("connect", connecting.error);
        return failed;
    }

    while (!unsent.empty()) {
        const WriteResult sent = write_some(fd, unsent);
        if (sent.status == WriteStatus::ok) {
            unsent.remove_prefix(sent.bytes);
        } else if (sent.status == WriteStatus::peer_gone) {
            failed.error = "connection reset while sending the request";
            return failed;
        } else if (sent.status == WriteStatus::would_block && !wait_for(fd, POLLOUT, deadline)) {
            failed.error = fmt::format("timed out after {:g} s while sending the request",
                                       std::chrono::duration<double>(timeout_).count());
            return failed;
        }
    }

    auto last_byte = start;
    bool half_closed = false;
    while (!check.finished() && !check.failed()) {
        const ReadResult got = read_some(fd, buffer_.data(), buffer_.size());
        switch (got.status) {
            case ReadStatus::ok:
                check.feed(std::string_view(buffer_.data(), got.bytes));
                if (check.complete() && !half_closed) {
                    last_byte = Clock::now();
                    // The contract's client half-closes, so that the
                    // server ends the connection; counting only, it just
                    // closes, as UNP's client.c does.
                    if (!count_only_) half_close(fd);
                    half_closed = true;
                }
                break;
            case ReadStatus::eof:
                check.end_of_input();
                break;
            case ReadStatus::would_block:
                if (!wait_for(fd, POLLIN, deadline)) check.fail(reply_timed_out(check, timeout_));
                break;
            case ReadStatus::peer_gone:
                check.fail(reset_during(check));
                break;
            case ReadStatus::interrupted:
                break;
        }
    }
    return outcome_of(check, start, last_byte);
}

}  // namespace csd::client
