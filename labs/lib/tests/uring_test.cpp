// Unit tests of csd::Ring and csd::BufferRing (csd/uring.hpp). Skipped, with
// the reason, when io_uring cannot be used here: main() returns 77, which
// CTest reports as skipped (SKIP_RETURN_CODE).
#define DOCTEST_CONFIG_IMPLEMENT
#include "csd/uring.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>

#include "csd/fd.hpp"

namespace {

std::string target_of(int fd) {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
}

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

// A connected pair of stream sockets, CLOEXEC.
std::pair<csd::Fd, csd::Fd> socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    return {csd::Fd(fds[0]), csd::Fd(fds[1])};
}

// The next completion (waits for it), taken off the queue.
io_uring_cqe next_completion(csd::Ring& ring) {
    io_uring_cqe* cqe = nullptr;
    REQUIRE(::io_uring_wait_cqe(ring.get(), &cqe) == 0);
    const io_uring_cqe copy = *cqe;
    ::io_uring_cqe_seen(ring.get(), cqe);
    return copy;
}

}  // namespace

TEST_CASE("Ring owns an io_uring descriptor, CLOEXEC, closed when destroyed or moved over") {
    int fd = -1;
    {
        csd::Ring ring(8);
        fd = ring.fd();
        REQUIRE(fd >= 0);
        CHECK(target_of(fd) == "anon_inode:[io_uring]");
        CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        csd::Ring moved(std::move(ring));
        CHECK(moved.fd() == fd);
        CHECK(ring.fd() == -1);  // NOLINT(bugprone-use-after-move): moved from, owns nothing
        csd::Ring other(4);
        const int other_fd = other.fd();
        other = std::move(moved);  // tears down other's ring, takes fd
        CHECK(other.fd() == fd);
        CHECK_FALSE(is_open(other_fd));
    }
    CHECK_FALSE(is_open(fd));
}

TEST_CASE("Ring submits a send and a recv and reaps their completions") {
    csd::Ring ring(8);
    auto [a, b] = socket_pair();
    char text[] = "hello";
    io_uring_sqe& send = ring.next_sqe();
    ::io_uring_prep_send(&send, a.get(), text, 5, 0);
    ::io_uring_sqe_set_data64(&send, 1);
    REQUIRE(ring.submit_and_wait());
    const io_uring_cqe sent = next_completion(ring);
    CHECK(sent.user_data == 1);
    CHECK(sent.res == 5);

    char got[8] = {};
    io_uring_sqe& recv = ring.next_sqe();
    ::io_uring_prep_recv(&recv, b.get(), got, sizeof got, 0);
    ::io_uring_sqe_set_data64(&recv, 2);
    REQUIRE(ring.submit_and_wait());
    const io_uring_cqe received = next_completion(ring);
    CHECK(received.user_data == 2);
    CHECK(received.res == 5);
    CHECK(std::string(got) == "hello");
}

TEST_CASE("next_sqe() submits a full queue to make room") {
    csd::Ring ring(2);
    auto [a, b] = socket_pair();
    char byte = 'x';
    for (int i = 0; i < 5; ++i) {  // more than the 2 entries of the queue
        io_uring_sqe& sqe = ring.next_sqe();
        ::io_uring_prep_send(&sqe, a.get(), &byte, 1, 0);
    }
    REQUIRE(::io_uring_submit(ring.get()) >= 0);
    int done = 0;
    while (done < 5) {
        CHECK(next_completion(ring).res == 1);
        ++done;
    }
    char got[8];
    CHECK(::read(b.get(), got, sizeof got) == 5);
}

TEST_CASE("BufferRing: a recv takes a provided buffer, give_back() returns it") {
    csd::Ring ring(8);
    csd::BufferRing buffers(ring, 7, 2, 16);
    CHECK(buffers.group() == 7);
    CHECK(buffers.buffer_size() == 16);
    auto [a, b] = socket_pair();
    for (int round = 0; round < 5; ++round) {  // 2 buffers, 5 rounds: they come back
        const std::string text = "round " + std::to_string(round);
        REQUIRE(::write(a.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        io_uring_sqe& recv = ring.next_sqe();
        ::io_uring_prep_recv(&recv, b.get(), nullptr, 0, 0);
        recv.flags |= IOSQE_BUFFER_SELECT;
        recv.buf_group = buffers.group();
        REQUIRE(ring.submit_and_wait());
        const io_uring_cqe cqe = next_completion(ring);
        REQUIRE(cqe.res == static_cast<int>(text.size()));
        const int id = csd::BufferRing::buffer_id(cqe.flags);
        REQUIRE(id >= 0);
        CHECK(id < 2);
        CHECK(buffers.bytes(static_cast<unsigned>(id), static_cast<std::size_t>(cqe.res)) == text);
        buffers.give_back(static_cast<unsigned>(id));
    }
}

TEST_CASE("BufferRing: out of buffers, a recv fails with ENOBUFS") {
    csd::Ring ring(8);
    csd::BufferRing buffers(ring, 1, 1, 8);
    auto [a, b] = socket_pair();
    for (int i = 0; i < 2; ++i) {
        REQUIRE(::write(a.get(), "abc", 3) == 3);
        io_uring_sqe& recv = ring.next_sqe();
        ::io_uring_prep_recv(&recv, b.get(), nullptr, 0, 0);
        recv.flags |= IOSQE_BUFFER_SELECT;
        recv.buf_group = buffers.group();
        REQUIRE(ring.submit_and_wait());
        const io_uring_cqe cqe = next_completion(ring);
        if (i == 0) {
            CHECK(cqe.res == 3);  // the one buffer is taken, and not given back
        } else {
            CHECK(cqe.res == -ENOBUFS);
            CHECK(csd::BufferRing::buffer_id(cqe.flags) == -1);
        }
    }
}

TEST_CASE("BufferRing rejects a count that is not a power of two") {
    csd::Ring ring(4);
    CHECK_THROWS_AS(csd::BufferRing(ring, 0, 3, 16), std::invalid_argument);
}

TEST_CASE("check_uring throws system_error naming the call for a negative result") {
    CHECK(csd::check_uring(3, "x") == 3);
    try {
        csd::check_uring(-EBADF, "io_uring_thing");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EBADF);
        CHECK(std::string(e.what()).starts_with("io_uring_thing"));
    }
}

int main(int argc, char** argv) {
    if (const std::string why = csd::io_uring_unavailable(); !why.empty()) {
        std::cout << "SKIPPED: io_uring is not available here: " << why << '\n';
        return 77;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
