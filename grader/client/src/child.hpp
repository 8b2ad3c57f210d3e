#pragma once
/// @file child.hpp
/// @brief What one forked child does.

#include "address.hpp"
#include "options.hpp"

namespace csd::client {

/// Exit status of a child that stopped on an unexpected error.
inline constexpr int child_error_status = 3;

/// Runs child number @p child (from 1): its connections, one after
/// another or --concurrent at once, reporting each on the pipe
/// @p report_fd. Returns the exit status for _exit(): 0 when every
/// connection was reported (exact or not), child_error_status when an
/// unexpected error stopped it (the message goes to stderr). Never throws.
[[nodiscard]] int run_child(int child, const ClientOptions& options, const Address& address,
                            int report_fd) noexcept;

}  // namespace csd::client
