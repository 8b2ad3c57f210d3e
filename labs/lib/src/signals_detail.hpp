#pragma once
/// @file signals_detail.hpp
/// @brief What signals.cpp shares with process.cpp (fork_child()), not
/// part of the library's API.

#include <csignal>

namespace csd::detail {

/// The signals route_signals() routed, as a set. Main thread, or a child
/// before it unblocks them.
sigset_t routed_signals() noexcept;

/// True when the routed signals are blocked for good in every thread and
/// taken by a signal thread (ThreadSanitizer builds), false when handlers
/// take them.
bool routed_signals_blocked_for_good() noexcept;

}  // namespace csd::detail
