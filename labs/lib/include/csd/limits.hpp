#pragma once
/// @file limits.hpp
/// @brief The process's limit on open descriptors.

#include <cstdint>

namespace csd {

/// Raises the soft limit on open descriptors (RLIMIT_NOFILE, often 1024)
/// to the hard limit, so that one process can hold thousands of sockets;
/// returns the soft limit now in force. Call from the main thread at start.
/// Throws std::system_error naming the failed call.
std::uint64_t raise_open_file_limit();

}  // namespace csd
