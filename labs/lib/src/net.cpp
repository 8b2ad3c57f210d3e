#include "csd/net.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "csd/error.hpp"

namespace csd {
namespace {

struct AddrInfoDeleter {
    void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

}  // namespace

Fd listen_tcp(const std::string& host, std::uint16_t port, const ListenOptions& options) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        const std::string call = "getaddrinfo(" + host + ")";
        if (rc == EAI_SYSTEM) throw_errno(call.c_str());
        throw std::system_error(rc, resolver_category(), call);
    }
    std::unique_ptr<addrinfo, AddrInfoDeleter> list(found);

    const int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    Fd fd(check(::socket(list->ai_family, type, 0), "socket"));
    const int one = 1;
    check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
          "setsockopt(SO_REUSEADDR)");
    if (options.reuse_port) {
        check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one),
              "setsockopt(SO_REUSEPORT)");
    }
    check(::bind(fd.get(), list->ai_addr, list->ai_addrlen), "bind");
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
