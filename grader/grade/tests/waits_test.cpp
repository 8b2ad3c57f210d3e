// What a blocked thread waits on, from a sample of /proc/TID/syscall and
// the memory or epoll set its arguments point to.
#include "waits.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include <doctest/doctest.h>

#include <cstring>
#include <ctime>
#include <string>

using namespace csd::grade;
using namespace csd::grade::waits;

namespace {

procfs::SyscallSample sample(long number, std::vector<std::uint64_t> args) {
    procfs::SyscallSample s;
    s.readable = true;
    s.number = number;
    s.args = std::move(args);
    return s;
}

// Memory with @p bytes at address 0x1000 and nothing anywhere else.
Readers memory_at_0x1000(std::string bytes) {
    Readers r;
    r.memory = [bytes = std::move(bytes)](std::uint64_t address,
                                          std::size_t size) -> std::optional<std::string> {
        if (address != 0x1000 || size > bytes.size()) return std::nullopt;
        return bytes.substr(0, size);
    };
    return r;
}

}  // namespace

TEST_CASE("accept and read wait on their first argument") {
    const auto w = describe(sample(SYS_accept4, {3, 0, 0, 0x80800, 0, 0}), {});
    CHECK(w.call == "accept4");
    CHECK(w.fds == std::vector<int>{3});
    CHECK(w.waits_on(3));
    CHECK_FALSE(w.waits_on(4));
    CHECK(w.text() == "accept4 on fd 3");
    CHECK(describe(sample(SYS_read, {7, 0x1000, 4096}), {}).fds == std::vector<int>{7});
}

TEST_CASE("poll: the descriptors of the pollfd array, negative ones left out") {
    const pollfd array[3] = {{5, POLLIN, 0}, {-1, POLLIN, 0}, {3, POLLIN, 0}};
    std::string bytes(sizeof array, '\0');
    std::memcpy(bytes.data(), array, sizeof array);
    const auto w = describe(sample(SYS_poll, {0x1000, 3, 0xffffffff}), memory_at_0x1000(bytes));
    CHECK(w.fds == std::vector<int>{3, 5});
    CHECK(w.text() == "poll on fds 3, 5");
    // An array that cannot be read: the call is known, its descriptors are not.
    const auto unread =
        describe(sample(SYS_poll, {0x2000, 3, 0xffffffff}), memory_at_0x1000(bytes));
    CHECK(unread.call == "poll");
    CHECK(unread.fds.empty());
}

TEST_CASE("select: the read set, up to nfds") {
    std::string set(8, '\0');
    set[0] = static_cast<char>(1U << 4);  // fd 4
    set[1] = static_cast<char>(1U << 1);  // fd 9
    const auto w = describe(sample(SYS_pselect6, {10, 0x1000, 0, 0, 0, 0}), memory_at_0x1000(set));
    CHECK(w.call == "pselect6");
    CHECK(w.fds == std::vector<int>{4, 9});
    CHECK(fds_in_fd_set(set, 5) == std::vector<int>{4});  // fd 9 is beyond nfds
    // No read set at all (a select used as a sleep): nothing watched.
    CHECK(describe(sample(SYS_pselect6, {10, 0, 0, 0, 0, 0}), memory_at_0x1000(set)).fds.empty());
}

TEST_CASE("epoll_wait: the interest list of its epoll descriptor, with the flags") {
    Readers r;
    r.epoll = [](int epfd) -> std::optional<std::vector<procfs::EpollEntry>> {
        if (epfd != 6) return std::nullopt;
        return std::vector<procfs::EpollEntry>{{4, 0x10000001U}, {5, 0x19U}};
    };
    const auto w = describe(sample(SYS_epoll_wait, {6, 0x1000, 1, 0xffffffff}), r);
    CHECK(w.fds == std::vector<int>{4, 5});
    CHECK(w.epoll_events.at(4) == 0x10000001U);
    CHECK(describe(sample(SYS_epoll_wait, {7, 0x1000, 1, 0xffffffff}), r).fds.empty());
}

TEST_CASE("writes: the descriptor written to, and room waited for") {
    const auto w = describe(sample(SYS_sendto, {9, 0x1000, 4096, 0x4000, 0, 0}), {});
    CHECK(w.write_fds == std::vector<int>{9});
    CHECK(w.fds.empty());  // not waiting for input
    CHECK(w.text() == "sendto on fd 9");
    CHECK(describe(sample(SYS_write, {7, 0x1000, 10}), {}).write_fds == std::vector<int>{7});
    CHECK(describe(sample(SYS_sendmsg, {8, 0x1000, 0}), {}).write_fds == std::vector<int>{8});
    CHECK(describe(sample(SYS_splice, {3, 0, 10, 0, 4096, 0}), {}).write_fds ==
          std::vector<int>{10});
    CHECK(describe(sample(SYS_read, {7, 0x1000, 10}), {}).write_fds.empty());
    // poll: only the entries that ask for POLLOUT.
    const pollfd array[3] = {{5, POLLIN, 0}, {6, POLLOUT, 0}, {3, POLLIN | POLLOUT, 0}};
    std::string bytes(sizeof array, '\0');
    std::memcpy(bytes.data(), array, sizeof array);
    const auto p = describe(sample(SYS_ppoll, {0x1000, 3, 0, 0, 8}), memory_at_0x1000(bytes));
    CHECK(p.fds == std::vector<int>{3, 5, 6});
    CHECK(p.write_fds == std::vector<int>{3, 6});
    // select: the write set (its third argument).
    std::string set(8, '\0');
    set[0] = static_cast<char>(1U << 4);  // fd 4
    const auto s = describe(sample(SYS_select, {10, 0, 0x1000, 0, 0}), memory_at_0x1000(set));
    CHECK(s.fds.empty());
    CHECK(s.write_fds == std::vector<int>{4});
    // epoll: the descriptors registered with EPOLLOUT.
    Readers r;
    r.epoll = [](int) -> std::optional<std::vector<procfs::EpollEntry>> {
        return std::vector<procfs::EpollEntry>{{4, EPOLLIN}, {5, EPOLLIN | EPOLLOUT}};
    };
    const auto e = describe(sample(SYS_epoll_pwait, {6, 0x1000, 1, 0xffffffff, 0, 8}), r);
    CHECK(e.fds == std::vector<int>{4, 5});
    CHECK(e.write_fds == std::vector<int>{5});
}

TEST_CASE("fcntl: waiting for a record lock, and not") {
    CHECK(describe(sample(SYS_fcntl, {7, F_SETLKW, 0x1000}), {}).record_lock);
    CHECK(describe(sample(SYS_fcntl, {7, F_OFD_SETLKW, 0x1000}), {}).record_lock);
    CHECK(describe(sample(SYS_fcntl, {7, F_SETLKW, 0x1000}), {}).text() == "fcntl(F_SETLKW)");
    CHECK_FALSE(describe(sample(SYS_fcntl, {7, F_GETFL, 0}), {}).record_lock);
}

TEST_CASE("running, unreadable and not in a call") {
    procfs::SyscallSample running;
    running.readable = true;
    running.running = true;
    CHECK(describe(running, {}).text() == "running");
    CHECK(describe(procfs::SyscallSample{}, {}).text() == "(unreadable)");
    procfs::SyscallSample none;
    none.readable = true;
    CHECK(describe(none, {}).text() == "not in a system call");
    CHECK(describe(sample(SYS_futex, {0x1000, 0x80, 0}), {}).text() == "futex");
}

TEST_CASE("timeouts: a wait that ends by itself, and one that does not") {
    const Readers none;
    CHECK(describe(sample(SYS_poll, {0x1000, 2, 400}), none).timeout == "a timeout of 400 ms");
    CHECK(describe(sample(SYS_poll, {0x1000, 2, 0xffffffff}), none).timeout.empty());
    CHECK(describe(sample(SYS_epoll_wait, {5, 0x1000, 64, 4600}), none).timeout ==
          "a timeout of 4600 ms");
    CHECK(describe(sample(SYS_epoll_wait, {5, 0x1000, 64, 0xffffffff}), none).timeout.empty());
    CHECK(describe(sample(SYS_clock_nanosleep, {1, 0, 0x1000, 0}), none).timeout == "a sleep");
    // select's timeval and pselect6's timespec, read from memory.
    std::string tv(16, '\0');
    const std::int64_t sec = 0;
    const std::int64_t usec = 400000;
    std::memcpy(tv.data(), &sec, 8);
    std::memcpy(tv.data() + 8, &usec, 8);
    CHECK(describe(sample(SYS_select, {5, 0, 0, 0, 0x1000}), memory_at_0x1000(tv)).timeout ==
          "a timeout of 400 ms");
    CHECK(describe(sample(SYS_select, {5, 0, 0, 0, 0}), memory_at_0x1000(tv)).timeout.empty());
    // A futex wait: a join has no timeout, a condition variable's wait_for has one.
    CHECK(describe(sample(SYS_futex, {0x2000, 128, 7, 0}), none).timeout.empty());
    CHECK(describe(sample(SYS_futex, {0x2000, 128 | 9, 7, 0x3000}), none).timeout == "a timeout");
}

TEST_CASE("timeouts: a futex wait's relative timeout, and a clock wait's deadline") {
    const auto timespec_at = [](std::uint64_t address, std::int64_t sec, std::int64_t nsec) {
        std::string ts(16, '\0');
        std::memcpy(ts.data(), &sec, 8);
        std::memcpy(ts.data() + 8, &nsec, 8);
        Readers r;
        r.memory = [ts, address](std::uint64_t at, std::size_t size) -> std::optional<std::string> {
            if (at == address && size <= ts.size()) return ts.substr(0, size);
            return std::nullopt;
        };
        return r;
    };
    // FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 5 ms from the call.
    const auto relative =
        describe(sample(SYS_futex, {0x2000, 128, 7, 0x3000}), timespec_at(0x3000, 0, 5'000'000));
    CHECK(relative.timeout == "a timeout of 5 ms");
    REQUIRE(relative.timeout_ms);
    CHECK(*relative.timeout_ms == doctest::Approx(5));
    // FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG: a deadline 30 s from now on
    // CLOCK_MONOTONIC (a condition variable's wait_for(30 s)).
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto deadline = describe(sample(SYS_futex, {0x2000, 128 | 9, 7, 0x3000}),
                                   timespec_at(0x3000, now.tv_sec + 30, now.tv_nsec));
    REQUIRE(deadline.timeout_ms);
    CHECK(*deadline.timeout_ms > 29'000);
    CHECK(*deadline.timeout_ms <= 30'000);
    CHECK(deadline.timeout.starts_with("a deadline "));
    // FUTEX_CLOCK_REALTIME: the deadline is on the wall clock; one passed is 0 ms away.
    ::clock_gettime(CLOCK_REALTIME, &now);
    const auto passed = describe(sample(SYS_futex, {0x2000, 128 | 256 | 9, 7, 0x3000}),
                                 timespec_at(0x3000, now.tv_sec - 1, 0));
    REQUIRE(passed.timeout_ms);
    CHECK(*passed.timeout_ms == 0);
}

TEST_CASE("timeouts: io_uring_enter's IORING_ENTER_EXT_ARG, with a timespec or none") {
    // struct io_uring_getevents_arg at 0x1000, its timespec at 0x2000.
    std::string arg(24, '\0');
    const std::uint64_t ts_address = 0x2000;
    std::memcpy(arg.data() + 16, &ts_address, 8);
    std::string ts(16, '\0');
    const std::int64_t sec = 4;
    const std::int64_t nsec = 600'000'000;
    std::memcpy(ts.data(), &sec, 8);
    std::memcpy(ts.data() + 8, &nsec, 8);
    Readers r;
    r.memory = [&](std::uint64_t address, std::size_t size) -> std::optional<std::string> {
        if (address == 0x1000 && size <= arg.size()) return arg.substr(0, size);
        if (address == 0x2000 && size <= ts.size()) return ts.substr(0, size);
        return std::nullopt;
    };
    // io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz): GETEVENTS | EXT_ARG.
    const auto w = describe(sample(SYS_io_uring_enter, {4, 0, 1, 1 | 8, 0x1000, 24}), r);
    CHECK(w.timeout == "a timeout of 4600 ms");
    REQUIRE(w.timeout_ms);
    CHECK(*w.timeout_ms == doctest::Approx(4600));
    // Without EXT_ARG the argument is a signal mask: no timeout.
    CHECK(describe(sample(SYS_io_uring_enter, {4, 0, 1, 1, 0x1000, 8}), r).timeout.empty());
    // EXT_ARG with no timespec: a wait with no timeout.
    std::memset(arg.data() + 16, 0, 8);
    CHECK(describe(sample(SYS_io_uring_enter, {4, 0, 1, 1 | 8, 0x1000, 24}), r).timeout.empty());
}

TEST_CASE("asleep: a sleep call, or a poll or select on nothing with a timeout") {
    CHECK(is_sleep_call("nanosleep"));
    CHECK(is_sleep_call("clock_nanosleep"));
    CHECK_FALSE(is_sleep_call("epoll_wait"));
    const Readers none;
    CHECK(describe(sample(SYS_clock_nanosleep, {1, 0, 0x1000, 0}), none).asleep());
    CHECK(describe(sample(SYS_poll, {0, 0, 100}), none).asleep());
    CHECK_FALSE(describe(sample(SYS_poll, {0, 0, 0xffffffff}), none).asleep());
    // A poll on a descriptor with a timeout waits for something: not asleep.
    const pollfd one[1] = {{5, POLLIN, 0}};
    std::string bytes(sizeof one, '\0');
    std::memcpy(bytes.data(), one, sizeof one);
    CHECK_FALSE(describe(sample(SYS_poll, {0x1000, 1, 100}), memory_at_0x1000(bytes)).asleep());
    CHECK_FALSE(describe(sample(SYS_epoll_wait, {5, 0x1000, 64, 100}), none).asleep());
}
