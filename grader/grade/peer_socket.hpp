#pragma once
/// @file peer_socket.hpp
/// @brief A socket option of a descriptor of another process (the server
/// under test), read through a duplicate of that descriptor
/// (pidfd_open(2), pidfd_getfd(2), Linux 5.6; the caller must be allowed to
/// ptrace the process: the grader is its parent). The duplicate is closed
/// at once; nothing of the process changes. Any thread.

#include <sys/types.h>

#include <optional>
#include <string>

namespace csd::grade {

/// The int value of option @p name at @p level (getsockopt(2)) of
/// descriptor @p fd of process @p pid; nullopt when it cannot be read here
/// (an old kernel, no permission, the descriptor gone), with the reason in
/// @p why_not when given.
[[nodiscard]] std::optional<int> peer_socket_option(pid_t pid, int fd, int level, int name,
                                                    std::string* why_not = nullptr);

}  // namespace csd::grade
