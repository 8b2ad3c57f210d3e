// tcp_diag: the kernel's exact lookup of one loopback connection agrees
// with the socket's own inode, and never answers with the listener.
#include "tcp_diag.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

#include "procfs.hpp"

using namespace csd::grade;

namespace {

std::uint16_t port_of(int fd, bool peer) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                        : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    REQUIRE(rc == 0);
    return ntohs(addr.sin_port);
}

std::uint64_t inode_of(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st.st_ino;
}

}  // namespace

TEST_CASE("loopback_connection finds the accepted socket, not its listener") {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, 8) == 0);
    const std::uint16_t server_port = port_of(listener, false);
    addr.sin_port = htons(server_port);

    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(client >= 0);
    REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    const std::uint16_t client_port = port_of(client, false);

    // Connected, not accepted: no socket has an inode yet.
    const auto queued = tcp_diag::loopback_connection(server_port, client_port);
    if (!queued.answered) {
        MESSAGE("sock_diag unavailable here (the grader reads /proc/net/tcp instead)");
    } else {
        CHECK(queued.inode == 0);
    }
    CHECK_FALSE(procfs::connection_inode(server_port, client_port).has_value());

    const int served = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(served >= 0);
    CHECK(port_of(served, true) == client_port);
    const auto found = tcp_diag::loopback_connection(server_port, client_port);
    if (found.answered) CHECK(found.inode == inode_of(served));
    CHECK(procfs::connection_inode(server_port, client_port) == inode_of(served));

    // A client port of no connection: the kernel's lookup would fall back
    // to the listener on the server's port; that is not an answer.
    const auto none = tcp_diag::loopback_connection(server_port, 1);
    CHECK(none.inode != inode_of(listener));
    CHECK(none.inode == 0);
    CHECK_FALSE(procfs::connection_inode(server_port, 1).has_value());

    ::close(served);
    ::close(client);
    ::close(listener);
}
