#include "csd/net.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <vector>

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

TEST_CASE("accept_connection: nothing when nobody waits, a CLOEXEC socket otherwise") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0, {.nonblocking = true});
    const csd::Accepted none = csd::accept_connection(l.get(), csd::IoMode::nonblocking);
    CHECK(none.status == csd::AcceptStatus::nothing);
    CHECK(none.error == EAGAIN);
    CHECK_FALSE(none.connection.valid());
    csd::Fd client = connect_to(csd::local_port(l.get()));
    csd::Accepted got;
    for (int i = 0; i < 1000 && !got.connection; ++i) {
        got = csd::accept_connection(l.get(), csd::IoMode::nonblocking);
    }
    REQUIRE(got.status == csd::AcceptStatus::accepted);
    REQUIRE(got.connection.valid());
    CHECK((::fcntl(got.connection.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(got.connection.get(), F_GETFL) & O_NONBLOCK) != 0);
}

TEST_CASE("accept_connection reports EMFILE as out_of_descriptors, not as an exception") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0, {.nonblocking = true});
    csd::Fd client = connect_to(csd::local_port(l.get()));
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    // Use up every descriptor below a low limit, then accept.
    std::vector<csd::Fd> hogs;
    rlimit low = old;
    low.rlim_cur = 64;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (;;) {
        const int fd = ::dup(l.get());
        if (fd < 0) break;
        hogs.emplace_back(fd);
    }
    const csd::Accepted a = csd::accept_connection(l.get(), csd::IoMode::nonblocking);
    hogs.clear();
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK(a.status == csd::AcceptStatus::out_of_descriptors);
    CHECK(a.error == EMFILE);
}

TEST_CASE("listen_tcp options: backlog, SO_REUSEPORT") {
    csd::Fd a = csd::listen_tcp("127.0.0.1", 0, {.backlog = 8, .reuse_port = true});
    int on = 0;
    socklen_t len = sizeof on;
    REQUIRE(::getsockopt(a.get(), SOL_SOCKET, SO_REUSEPORT, &on, &len) == 0);
    CHECK(on == 1);
    CHECK((::fcntl(a.get(), F_GETFL) & O_NONBLOCK) == 0);
    // A second socket may listen on the same port with SO_REUSEPORT.
    csd::Fd b = csd::listen_tcp("127.0.0.1", csd::local_port(a.get()), {.reuse_port = true});
    CHECK(b.valid());
}

TEST_CASE("read_some and write_some report would-block, eof and peer-gone as results") {
    csd::Fd l = csd::listen_tcp("127.0.0.1", 0);
    csd::Fd client = connect_to(csd::local_port(l.get()));
    csd::Fd conn = csd::accept_connection(l.get()).connection;
    REQUIRE(conn.valid());
    csd::set_nonblocking(conn.get());
    char buf[16];
    CHECK(csd::read_some(conn.get(), buf, sizeof buf).status == csd::ReadStatus::would_block);
    const auto w = csd::write_some(client.get(), "hi");
    CHECK(w.status == csd::WriteStatus::ok);
    CHECK(w.bytes == 2);
    csd::set_nonblocking(conn.get(), false);
    const auto r = csd::read_some(conn.get(), buf, sizeof buf);
    CHECK(r.status == csd::ReadStatus::ok);
    CHECK(std::string_view(buf, r.bytes) == "hi");
    ::shutdown(client.get(), SHUT_WR);
    CHECK(csd::read_some(conn.get(), buf, sizeof buf).status == csd::ReadStatus::eof);
    linger lg{1, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client.reset();  // RST
    csd::WriteResult last{csd::WriteStatus::ok};
    for (int i = 0; i < 100 && last.status == csd::WriteStatus::ok; ++i)
        last = csd::write_some(conn.get(), "x");
    CHECK(last.status == csd::WriteStatus::peer_gone);  // no SIGPIPE: MSG_NOSIGNAL
}

TEST_CASE("socket_pair: two connected CLOEXEC ends") {
    auto [a, b] = csd::socket_pair(csd::IoMode::nonblocking);
    CHECK((::fcntl(a.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(b.get(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK(csd::write_some(a.get(), "ping").bytes == 4);
    char buf[8];
    const auto r = csd::read_some(b.get(), buf, sizeof buf);
    CHECK(std::string_view(buf, r.bytes) == "ping");
    CHECK(csd::read_some(b.get(), buf, sizeof buf).status == csd::ReadStatus::would_block);
}

TEST_CASE("check_rc and check_mmap turn their failure conventions into system_error") {
    CHECK_NOTHROW(csd::check_rc(0, "pthread_create"));
    try {
        csd::check_rc(EAGAIN, "pthread_create");
        FAIL("no throw");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EAGAIN);
        CHECK(std::strstr(e.what(), "pthread_create") != nullptr);
    }
    errno = ENOMEM;
    CHECK_THROWS_AS((void)csd::check_mmap(MAP_FAILED, "mmap"), std::system_error);
    int x = 0;
    CHECK(csd::check_mmap(&x, "mmap") == &x);
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
    try {
        (void)csd::listen_tcp("not-an-address.invalid", 0);
        FAIL("a name was bound");
    } catch (const std::system_error& e) {
        // Reported as what it is (a resolver error), not as EINVAL.
        CHECK(e.code().category() == csd::resolver_category());
        CHECK(e.code().value() == EAI_NONAME);
        CHECK(std::strstr(e.what(), "numeric") != nullptr);
    }
    // localhost is 127.0.0.1 (no resolver: IPv6 may be off on the machine).
    CHECK(csd::local_port(csd::listen_tcp("localhost", 0).get()) != 0);
}

TEST_CASE("out_of_descriptors tells EMFILE and ENFILE from other errors") {
    CHECK(csd::out_of_descriptors(EMFILE));
    CHECK(csd::out_of_descriptors(ENFILE));
    CHECK_FALSE(csd::out_of_descriptors(EAGAIN));
    CHECK_FALSE(csd::out_of_descriptors(ECONNABORTED));
}
