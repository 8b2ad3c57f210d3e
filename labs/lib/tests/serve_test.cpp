#include "csd/serve.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/net.hpp"
#include "csd/protocol.hpp"
#include "csd/signals.hpp"

namespace {

struct Pair {
    csd::Fd server, client;
};

Pair socket_pair() {
    int sv[2];
    csd::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
    return {csd::Fd(sv[0]), csd::Fd(sv[1])};
}

std::string read_all(int fd) {
    std::string got;
    char buf[65536];
    for (;;) {
        const auto r = csd::read_some(fd, buf, sizeof buf);
        if (r.status != csd::ReadStatus::ok) return got;
        got.append(buf, r.bytes);
    }
}

}  // namespace

TEST_CASE("serve_connection answers pipelined requests and returns on close") {
    Pair p = socket_pair();
    csd::Fd& client = p.client;
    csd::ConnectionEnd end{};
    std::thread t([&] {
        end = csd::serve_connection(p.server.get());
        p.server.reset();  // the caller closes: only then does the client see EOF
    });
    REQUIRE(csd::write_some(client.get(), "3\n1000000\r\n1\n").status == csd::WriteStatus::ok);
    ::shutdown(client.get(), SHUT_WR);
    const std::string got = read_all(client.get());  // EOF comes only after server is closed
    t.join();
    CHECK(end == csd::ConnectionEnd::closed);
    REQUIRE(got.size() == 3 + 1000000 + 1);
    CHECK(csd::first_mismatch(std::string_view(got).substr(0, 3), 0) == 3);
    CHECK(csd::first_mismatch(std::string_view(got).substr(3, 1000000), 0) == 1000000);
    CHECK(got.back() == 'a');
}

TEST_CASE("serve_connection drops a malformed client without a reply") {
    auto [server, client] = socket_pair();
    REQUIRE(csd::write_some(client.get(), "12x\n").status == csd::WriteStatus::ok);
    CHECK(csd::serve_connection(server.get()) == csd::ConnectionEnd::malformed);
    server.reset();
    CHECK(read_all(client.get()).empty());
}

TEST_CASE("serve_connection survives a client that vanishes mid-reply") {
    Pair p = socket_pair();
    csd::Fd& server = p.server;
    csd::Fd& client = p.client;
    REQUIRE(csd::write_some(client.get(), "100000000\n").status == csd::WriteStatus::ok);
    std::thread t([&] {
        char buf[1000];
        (void)csd::read_some(client.get(), buf, sizeof buf);
        client.reset();
    });
    CHECK(csd::serve_connection(server.get()) == csd::ConnectionEnd::peer_gone);
    t.join();
}

TEST_CASE("serve_connection returns stopped at once on a stop, even with an idle client") {
    // In a child: a stop is for good, the test runner must not see it.
    Pair p = socket_pair();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        csd::reset_signals_in_child();  // its own stop descriptor, not the runner's (shared)
        (void)csd::stop_fd();
        std::thread stopper([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            csd::request_stop();  // no signal: only the stop descriptor wakes the wait
        });
        const csd::ConnectionEnd end = csd::serve_connection(p.server.get());
        stopper.join();
        ::_exit(end == csd::ConnectionEnd::stopped ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);  // hangs (test timeout) if the stop is missed
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("serve_connection returns stopped while its client does not read a big reply") {
    Pair p = socket_pair();
    REQUIRE(csd::write_some(p.client.get(), "1000000000\n").status == csd::WriteStatus::ok);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        csd::reset_signals_in_child();  // its own stop descriptor, not the runner's (shared)
        (void)csd::stop_fd();
        std::thread stopper([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            csd::request_stop();
        });
        const csd::ConnectionEnd end = csd::serve_connection(p.server.get());
        stopper.join();
        ::_exit(end == csd::ConnectionEnd::stopped ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
