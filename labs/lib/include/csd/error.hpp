#pragma once
/// @file error.hpp
/// @brief Turning failed system calls into std::system_error.

#include <cerrno>
#include <system_error>

namespace csd {

/// Throws std::system_error for the current errno; what() starts with @p call.
[[noreturn]] void throw_errno(const char* call);

/// Returns @p result, or throws (via throw_errno) when it is -1.
/// Usage: `int fd = csd::check(socket(...), "socket");`
template <typename T>
T check(T result, const char* call) {
    if (result == static_cast<T>(-1)) throw_errno(call);
    return result;
}

/// True for the errno values that mean "try again later" on a
/// non-blocking descriptor (EAGAIN, EWOULDBLOCK).
[[nodiscard]] constexpr bool would_block(int err) noexcept {
    return err == EAGAIN || err == EWOULDBLOCK;
}

/// True for the errno values that mean the peer is gone (EPIPE,
/// ECONNRESET, ETIMEDOUT, EHOSTUNREACH...): drop the connection and go on.
[[nodiscard]] bool peer_gone(int err) noexcept;

/// True for the errno values that mean no descriptor is left (EMFILE for
/// the process, ENFILE for the system): accept() will fail the same way
/// until one is closed, so stop accepting for a while instead of spinning.
[[nodiscard]] constexpr bool out_of_descriptors(int err) noexcept {
    return err == EMFILE || err == ENFILE;
}

}  // namespace csd
