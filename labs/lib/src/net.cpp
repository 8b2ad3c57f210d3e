#include "csd/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "csd/error.hpp"

namespace csd {
namespace {

/// A socket address for @p host, @p port: a numeric IPv4 or IPv6 address,
/// or "localhost" (127.0.0.1). No resolver: the lab servers are static
/// programs, and a static glibc cannot load the resolver's libraries.
/// Throws std::system_error (resolver_category(), EAI_NONAME) for
/// anything else.
socklen_t socket_address(const std::string& host, std::uint16_t port, sockaddr_storage& addr) {
    addr = {};
    const std::string numeric = host == "localhost" ? "127.0.0.1" : host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    if (::inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof *v4;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (::inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof *v6;
    }
    throw std::system_error(
        EAI_NONAME, resolver_category(),
        "listen_tcp(" + host + "): not a numeric IPv4 or IPv6 address (nor localhost)");
}

}  // namespace

Fd listen_tcp(const std::string& host, std::uint16_t port, const ListenOptions& options) {
    sockaddr_storage addr{};
    const socklen_t len = socket_address(host, port, addr);
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    Fd fd(check(::socket(addr.ss_family, type, 0), "socket"));
    const int one = 1;
    check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
          "setsockopt(SO_REUSEADDR)");
    if (options.reuse_port) {
        check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one),
              "setsockopt(SO_REUSEPORT)");
    }
    check(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len), "bind");
    check(::listen(fd.get(), options.backlog), "listen");
    return fd;
}

std::uint16_t local_port(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    check(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), "getsockname");
    if (addr.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

Accepted accept_connection(int listen_fd, IoMode mode) {
    const int flags = SOCK_CLOEXEC | (mode == IoMode::nonblocking ? SOCK_NONBLOCK : 0);
    const int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
    if (fd >= 0) return {AcceptStatus::accepted, Fd(fd)};
    const int err = errno;
    switch (err) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:  // refused by a firewall rule: nothing to accept
            return {AcceptStatus::nothing, Fd{}, err};
        case EMFILE:
        case ENFILE:
            return {AcceptStatus::out_of_descriptors, Fd{}, err};
        default:
            throw_errno("accept4");
    }
}

void set_nonblocking(int fd, bool on) {
    const int flags = check(::fcntl(fd, F_GETFL), "fcntl(F_GETFL)");
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags) check(::fcntl(fd, F_SETFL, wanted), "fcntl(F_SETFL)");
}

namespace {

template <typename Result>
Result failed_io(const char* call) {
    using Status = decltype(Result::status);
    const int err = errno;
    if (would_block(err)) return {Status::would_block};
    if (err == EINTR) return {Status::interrupted};
    if (peer_gone(err)) return {Status::peer_gone};
    throw_errno(call);
}

}  // namespace

ReadResult read_some(int fd, char* buf, std::size_t size) {
    const ssize_t n = ::read(fd, buf, size);
    if (n > 0) return {ReadStatus::ok, static_cast<std::size_t>(n)};
    if (n == 0) return {ReadStatus::eof};
    return failed_io<ReadResult>("read");
}

WriteResult write_some(int fd, std::string_view data) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return {WriteStatus::ok, static_cast<std::size_t>(n)};
    return failed_io<WriteResult>("send");
}

std::pair<Fd, Fd> socket_pair(IoMode mode) {
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (mode == IoMode::nonblocking ? SOCK_NONBLOCK : 0);
    int fds[2] = {-1, -1};
    check(::socketpair(AF_UNIX, type, 0, fds), "socketpair");
    return {Fd(fds[0]), Fd(fds[1])};
}

}  // namespace csd
