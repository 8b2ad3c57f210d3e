// The rule of require_reply_writers(): one thread waits to write to each
// socket owed a reply, and no thread to two.
#include "checks/reply_writers.hpp"

#include <doctest/doctest.h>

using namespace csd::grade;

namespace {

waits::TaskWait writing(pid_t tid, std::string call, std::vector<int> fds) {
    waits::TaskWait w;
    w.tid = tid;
    w.readable = true;
    w.call = std::move(call);
    w.write_fds = std::move(fds);
    return w;
}

waits::TaskWait in(pid_t tid, std::string call) {
    return writing(tid, std::move(call), {});
}

}  // namespace

TEST_CASE("a thread of its own blocked on each socket, or waiting for room in it") {
    const std::vector<int> fds{5, 6, 7};
    CHECK_FALSE(
        reply_writers_problem(fds, {in(100, "accept4"), writing(101, "write", {5}),
                                    writing(102, "ppoll", {6}), writing(103, "sendto", {7})}));
    // Threads that wait for something else beside them do not count.
    CHECK_FALSE(reply_writers_problem(
        fds, {in(100, "futex"), writing(101, "sendmsg", {5}), writing(102, "epoll_wait", {6, 9}),
              writing(103, "select", {7}), in(104, "nanosleep")}));
}

TEST_CASE("one thread writing for every client, the others only waiting") {
    const std::vector<int> fds{5, 6, 7};
    // Blocked in a write on one socket; the other clients wait for it.
    const auto blocked = reply_writers_problem(
        fds, {writing(101, "write", {5}), in(102, "futex"), in(103, "futex")});
    REQUIRE(blocked);
    CHECK(blocked->find("no thread waits to write to 2 of those sockets (fds 6, 7)") !=
          std::string::npos);
    // Waiting for room in all of them at once.
    const auto all = reply_writers_problem(fds, {writing(101, "poll", {5, 6, 7}), in(102, "read")});
    REQUIRE(all);
    CHECK(all->find("thread 101 waits to write to 3 of those sockets") != std::string::npos);
    // Decoys that wait for room in their own socket while one thread writes.
    const auto twice =
        reply_writers_problem(fds, {writing(101, "write", {5}), writing(102, "ppoll", {5}),
                                    writing(103, "ppoll", {6}), writing(104, "ppoll", {7})});
    REQUIRE(twice);
    CHECK(twice->find("threads 101, 102 all wait to write to fd 5") != std::string::npos);
}

TEST_CASE("threads in io_uring_enter: one per socket no thread is seen on") {
    const std::vector<int> fds{5, 6};
    CHECK_FALSE(reply_writers_problem(fds, {in(101, "io_uring_enter"), in(102, "io_uring_enter")}));
    CHECK(reply_writers_problem(fds, {in(101, "io_uring_enter"), in(102, "poll")}));
}
