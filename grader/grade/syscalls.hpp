#pragma once
/// @file syscalls.hpp
/// @brief Names of the system calls a server may be blocked in, for this
/// architecture (numbers from <sys/syscall.h>). Pure; any thread.

#include <string>

namespace csd::grade {

/// The name of system call @p number ("epoll_wait"), or "syscall N" when
/// it is not one the grader knows.
[[nodiscard]] std::string syscall_name(long number);

}  // namespace csd::grade
