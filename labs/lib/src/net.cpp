#include "csd/net.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

/// Closes every descriptor carried by the SCM_RIGHTS messages of @p msg
/// except the first one of the first, which it returns (or -1); sets
/// @p unexpected when a control message of another kind came along.
int keep_first_descriptor(msghdr& msg, bool& unexpected) {
    int kept = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            unexpected = true;
            continue;
        }
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);  // may be unaligned
            if (kept < 0) {
                kept = fd;
            } else {
                ::close(fd);  // surplus: nobody else would close it
            }
        }
    }
    return kept;
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

WriteResult send_fd(int socket, int fd) {
    char byte = 'F';
    iovec iov{&byte, 1};
    // The control buffer must be aligned for cmsghdr: the union does it.
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        cmsghdr align;
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n >= 0) return {WriteStatus::ok, static_cast<std::size_t>(n)};
    return failed_io<WriteResult>("sendmsg");
}

ReceivedFd recv_fd(int socket) {
    char byte = 0;
    iovec iov{&byte, 1};
    // Room for a few descriptors, so that a sender's surplus ones arrive
    // (and are closed here) instead of truncating the message.
    constexpr std::size_t room = 8;
    union {
        char buf[CMSG_SPACE(room * sizeof(int))];
        cmsghdr align;
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    const ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return {failed_io<ReadResult>("recvmsg").status, Fd{}};
    bool unexpected = false;
    Fd fd(keep_first_descriptor(msg, unexpected));
    if (n == 0 && !fd) return {ReadStatus::eof, Fd{}};
    const char* what = nullptr;
    if ((msg.msg_flags & MSG_CTRUNC) != 0) {
        what = "recv_fd: control data truncated (MSG_CTRUNC)";
    } else if (unexpected) {
        what = "recv_fd: unexpected control message";
    } else if (!fd) {
        what = "recv_fd: a message without a descriptor";
    }
    if (what != nullptr)
        throw std::system_error(EBADMSG, std::generic_category(), what);  // fd closes
    return {ReadStatus::ok, std::move(fd)};
}

}  // namespace csd
