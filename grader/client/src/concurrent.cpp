#include "concurrent.hpp"

#include <fmt/core.h>
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string_view>
#include <utility>

#include "csd/error.hpp"
#include "csd/net.hpp"

namespace csd::client {
namespace {

/// Reads per readiness event before giving the other connections a turn.
constexpr int reads_per_event = 4;

void watch(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t index) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = index;
    csd::check(::epoll_ctl(epoll_fd, op, fd, &event), "epoll_ctl");
}

}  // namespace

ConcurrentConnector::ConcurrentConnector(const Address& address, std::uint64_t bytes,
                                         Clock::duration timeout, bool count_only)
    : address_(address),
      bytes_(bytes),
      timeout_(timeout),
      count_only_(count_only),
      request_(fmt::format("{}\n", bytes)),
      buffer_(64 * 1024) {}

void ConcurrentConnector::run(std::uint64_t count, const OnDone& on_done) {
    epoll_ = Fd(csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
    on_done_ = &on_done;
    slots_.clear();
    slots_.reserve(count);
    active_ = 0;
    for (std::uint64_t i = 0; i < count; ++i) start(i);

    // Deadlines grow with the index (connections start in index order),
    // so the earliest one belongs to the first slot still running.
    std::uint64_t oldest = 0;
    std::array<epoll_event, 256> events{};
    while (active_ > 0) {
        while (slots_[oldest].phase == Phase::done) ++oldest;
        const auto deadline = slots_[oldest].start + timeout_;
        const auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) {
            finish(oldest, reply_or_connect_timeout(oldest));
            continue;
        }
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                       static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX)));
        if (ready == -1) {
            if (errno == EINTR) continue;
            csd::throw_errno("epoll_wait");
        }
        for (int k = 0; k < ready; ++k) handle(events[static_cast<std::size_t>(k)].data.u64);
    }
    slots_.clear();
    epoll_.reset();
    on_done_ = nullptr;
}

std::string ConcurrentConnector::reply_or_connect_timeout(std::uint64_t index) const {
    const Slot& slot = slots_[index];
    if (slot.phase == Phase::connecting) return connect_timed_out(timeout_);
    if (slot.phase == Phase::sending)
        return fmt::format("timed out after {:g} s while sending the request",
                           std::chrono::duration<double>(timeout_).count());
    return reply_timed_out(slot.check, timeout_);
}

void ConcurrentConnector::start(std::uint64_t index) {
    Slot& slot = slots_.emplace_back(bytes_, count_only_);
    ++active_;
    slot.start = Clock::now();
    Connecting connecting = start_connect(address_);
    if (!connecting.socket) return finish(index, call_failed("socket", connecting.error));
    if (connecting.error != 0 && connecting.error != EINPROGRESS)
        return finish(index, call_failed("connect", connecting.error));
    slot.socket = std::move(connecting.socket);
    // Connected or not yet: writable means the connect is over either way.
    watch(epoll_.get(), EPOLL_CTL_ADD, slot.socket.get(), EPOLLOUT, index);
}

void ConcurrentConnector::handle(std::uint64_t index) {
    Slot& slot = slots_[index];
    switch (slot.phase) {
        case Phase::connecting:
            if (const int error = connect_result(slot.socket.get()); error != 0)
                return finish(index, call_failed("connect", error));
            slot.phase = Phase::sending;
            return send_request(index);
        case Phase::sending:
            return send_request(index);
        case Phase::receiving:
            return receive(index);
        case Phase::done:  // a stale event from the same epoll_wait batch
            return;
    }
}

void ConcurrentConnector::send_request(std::uint64_t index) {
    Slot& slot = slots_[index];
    const WriteResult sent =
        write_some(slot.socket.get(), std::string_view(request_).substr(slot.sent));
    if (sent.status == WriteStatus::peer_gone)
        return finish(index, "connection reset while sending the request");
    if (sent.status != WriteStatus::ok) return;  // would block or interrupted: wait for writable
    slot.sent += sent.bytes;
    if (slot.sent < request_.size()) return;
    slot.phase = Phase::receiving;
    watch(epoll_.get(), EPOLL_CTL_MOD, slot.socket.get(), EPOLLIN, index);
}

void ConcurrentConnector::receive(std::uint64_t index) {
    Slot& slot = slots_[index];
    for (int round = 0; round < reads_per_event; ++round) {
        const ReadResult got = read_some(slot.socket.get(), buffer_.data(), buffer_.size());
        if (got.status == ReadStatus::ok) {
            slot.check.feed(std::string_view(buffer_.data(), got.bytes));
            if (slot.check.complete() && !slot.half_closed) {
                slot.last_byte = Clock::now();
                half_close(slot.socket.get());
                slot.half_closed = true;
            }
        } else if (got.status == ReadStatus::eof) {
            slot.check.end_of_input();
        } else if (got.status == ReadStatus::peer_gone) {
            slot.check.fail(reset_during(slot.check));
        } else {
            break;  // would block or interrupted: wait for the next event
        }
        if (slot.check.failed() || slot.check.finished())
            return finish(index, outcome_of(slot.check, slot.start, slot.last_byte));
    }
}

void ConcurrentConnector::finish(std::uint64_t index, const Outcome& outcome) {
    Slot& slot = slots_[index];
    slot.socket.reset();  // closing also removes it from the epoll set
    slot.phase = Phase::done;
    --active_;
    (*on_done_)(index, outcome);
}

void ConcurrentConnector::finish(std::uint64_t index, std::string error) {
    Outcome outcome;
    outcome.error = std::move(error);
    finish(index, outcome);
}

}  // namespace csd::client
