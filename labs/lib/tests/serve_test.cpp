#include "csd/serve.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/net.hpp"
#include "csd/protocol.hpp"

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
        if (r.status != csd::IoStatus::ok) return got;
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
    REQUIRE(csd::write_some(client.get(), "3\n1000000\r\n1\n").status == csd::IoStatus::ok);
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
    REQUIRE(csd::write_some(client.get(), "12x\n").status == csd::IoStatus::ok);
    CHECK(csd::serve_connection(server.get()) == csd::ConnectionEnd::malformed);
    server.reset();
    CHECK(read_all(client.get()).empty());
}

TEST_CASE("serve_connection survives a client that vanishes mid-reply") {
    Pair p = socket_pair();
    csd::Fd& server = p.server;
    csd::Fd& client = p.client;
    REQUIRE(csd::write_some(client.get(), "100000000\n").status == csd::IoStatus::ok);
    std::thread t([&] {
        char buf[1000];
        (void)csd::read_some(client.get(), buf, sizeof buf);
        client.reset();
    });
    CHECK(csd::serve_connection(server.get()) == csd::ConnectionEnd::peer_gone);
    t.join();
}
