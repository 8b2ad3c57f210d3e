#pragma once
/// @file io_uring_probe.hpp
/// @brief Whether io_uring can be used where the grader runs (the uring lab).
/// Any thread.

#include <string>

namespace csd::grade {

/// Why io_uring cannot be used here, or "" when it can: sets up a ring of 2
/// entries with the raw io_uring_setup(2) call (the grader does not need
/// liburing) and closes it. The environment variable CSD_NO_IO_URING, when
/// set and not empty, makes it answer as if io_uring were disabled (the
/// test of the skip path).
[[nodiscard]] std::string io_uring_unavailable();

}  // namespace csd::grade
