#include "address.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "csd/error.hpp"

namespace csd::client {

Address resolve(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
    if (rc != 0) throw std::runtime_error(host + ": " + ::gai_strerror(rc));
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    Address address;
    std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
    address.length = found->ai_addrlen;
    address.family = found->ai_family;
    return address;
}

Connecting start_connect(const Address& address) noexcept {
    Connecting result;
    result.socket = Fd(::socket(address.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!result.socket) {
        result.error = errno;
        return result;
    }
    // sockaddr_storage is the type the socket API wants us to cast from.
    const auto* peer = reinterpret_cast<const sockaddr*>(&address.storage);
    if (::connect(result.socket.get(), peer, address.length) == 0) return result;
    // A signal cannot undo a non-blocking connect: it goes on in the background.
    result.error = errno == EINTR ? EINPROGRESS : errno;
    return result;
}

int connect_result(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    csd::check(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length), "getsockopt(SO_ERROR)");
    return error;
}

void half_close(int fd) {
    if (::shutdown(fd, SHUT_WR) == -1 && errno != ENOTCONN && !csd::peer_gone(errno))
        csd::throw_errno("shutdown");
}

}  // namespace csd::client
