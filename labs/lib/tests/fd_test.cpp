#include "csd/fd.hpp"
#include "csd/limits.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <utility>

namespace {
bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}
}  // namespace

TEST_CASE("Fd closes what it owns, once, and moves ownership") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    {
        csd::Fd a(fds[0]);
        csd::Fd b(fds[1]);
        CHECK(a.valid());
        csd::Fd c(std::move(a));
        CHECK_FALSE(a.valid());
        CHECK(c.get() == fds[0]);
        b = std::move(c);  // closes fds[1], takes fds[0]
        CHECK_FALSE(is_open(fds[1]));
        CHECK(is_open(fds[0]));
    }
    CHECK_FALSE(is_open(fds[0]));
}

TEST_CASE("Fd::release gives the descriptor away without closing it") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    int raw = -1;
    {
        csd::Fd a(fds[0]);
        raw = a.release();
        CHECK_FALSE(a);
    }
    CHECK(is_open(raw));
    ::close(raw);
    ::close(fds[1]);
}

TEST_CASE("raise_open_file_limit lifts the soft limit to the hard one") {
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    const std::uint64_t now = csd::raise_open_file_limit();
    rlimit after{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
    CHECK(now == after.rlim_cur);
    CHECK(after.rlim_cur == before.rlim_max);
}
