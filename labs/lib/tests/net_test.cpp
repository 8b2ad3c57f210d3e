#include "csd/net.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <cstring>
#include <system_error>

#include "csd/error.hpp"

namespace {

csd::Fd connect_to(std::uint16_t port) {
    csd::Fd fd(csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    csd::check(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect");
    return fd;
}

}  // namespace

TEST_CASE("listen_tcp binds loopback on an ephemeral port, CLOEXEC") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0);
    CHECK(csd::local_port(l.get()) != 0);
    CHECK((::fcntl(l.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("accept_connection: empty Fd when nothing waits, a CLOEXEC socket otherwise") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0, /*nonblocking=*/true);
    CHECK_FALSE(csd::accept_connection(l.get(), true).valid());
    csd::Fd client = connect_to(csd::local_port(l.get()));
    csd::Fd conn;
    for (int i = 0; i < 1000 && !conn; ++i) conn = csd::accept_connection(l.get(), true);
    REQUIRE(conn.valid());
    CHECK((::fcntl(conn.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(conn.get(), F_GETFL) & O_NONBLOCK) != 0);
}

TEST_CASE("read_some and write_some report would-block, eof and peer-gone as results") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0);
    csd::Fd client = connect_to(csd::local_port(l.get()));
    csd::Fd conn = csd::accept_connection(l.get());
    REQUIRE(conn.valid());
    csd::set_nonblocking(conn.get());
    char buf[16];
    CHECK(csd::read_some(conn.get(), buf, sizeof buf).status == csd::IoStatus::would_block);
    const auto w = csd::write_some(client.get(), "hi");
    CHECK(w.status == csd::IoStatus::ok);
    CHECK(w.bytes == 2);
    csd::set_nonblocking(conn.get(), false);
    const auto r = csd::read_some(conn.get(), buf, sizeof buf);
    CHECK(r.status == csd::IoStatus::ok);
    CHECK(std::string_view(buf, r.bytes) == "hi");
    ::shutdown(client.get(), SHUT_WR);
    CHECK(csd::read_some(conn.get(), buf, sizeof buf).status == csd::IoStatus::eof);
    linger lg{1, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client.reset();  // RST
    csd::IoResult last{csd::IoStatus::ok};
    for (int i = 0; i < 100 && last.status == csd::IoStatus::ok; ++i) last = csd::write_some(conn.get(), "x");
    CHECK(last.status == csd::IoStatus::peer_gone);  // no SIGPIPE: MSG_NOSIGNAL
}

TEST_CASE("a failed call throws system_error naming the call") {
    csd::Fd a = csd::listen_tcp("127.0.0.1", 0);
    try {
        csd::Fd b = csd::listen_tcp("127.0.0.1", csd::local_port(a.get()));
        FAIL("second bind succeeded");
    } catch (const std::system_error& e) {
        CHECK(std::strstr(e.what(), "bind") != nullptr);
        CHECK(e.code().value() == EADDRINUSE);
    }
    CHECK_THROWS_AS(csd::listen_tcp("not-an-address.invalid", 0), std::system_error);
}

TEST_CASE("out_of_descriptors tells EMFILE and ENFILE from other errors") {
    CHECK(csd::out_of_descriptors(EMFILE));
    CHECK(csd::out_of_descriptors(ENFILE));
    CHECK_FALSE(csd::out_of_descriptors(EAGAIN));
    CHECK_FALSE(csd::out_of_descriptors(ECONNABORTED));
}
