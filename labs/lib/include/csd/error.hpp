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

/// Throws std::system_error for @p rc when it is not 0: for the calls that
/// return an error number instead of setting errno (pthread_create,
/// pthread_mutex_lock, posix_spawn...).
/// Usage: `csd::check_rc(pthread_create(&t, nullptr, run, arg), "pthread_create");`
void check_rc(int rc, const char* call);

/// Returns @p address, or throws (via throw_errno) when it is MAP_FAILED:
/// mmap(2) reports failure with MAP_FAILED, not with -1 or nullptr.
/// Usage: `void* p = csd::check_mmap(mmap(...), "mmap");`
void* check_mmap(void* address, const char* call);

/// The error category of getaddrinfo()'s EAI_* codes: message() is
/// gai_strerror(). listen_tcp() throws std::system_error with it
/// (EAI_NONAME) when its host is not a numeric address.
[[nodiscard]] const std::error_category& resolver_category() noexcept;

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
