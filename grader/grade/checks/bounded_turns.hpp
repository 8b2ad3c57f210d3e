#pragma once
/// @file bounded_turns.hpp
/// @brief One turn of an event loop writes at most a budget to one client,
/// seen with strace while a client reads a big reply as fast as it can.
/// Used by modes (epoll -e) and zero-copy (sendfile). Main thread only.

#include <cstdint>
#include <string>

#include "check.hpp"

namespace csd::grade {

/// With strace attached, a client asks for 128 MiB and reads it as fast as
/// it can; the bytes written to its socket (write, send..., sendfile)
/// between two epoll waits must stay under @p max_turn (the solutions'
/// budgets are 256 KiB for epoll, 1 MiB for sendfile). A loop that writes until EAGAIN, with no
/// budget, keeps the loop for that one client while it reads fast: the
/// other clients wait. Fails with @p label first in its message and
/// @p hint first in its hint; without strace, or when the trace shows no
/// epoll wait at all (not an event loop: the syscall check's business),
/// left out.
void require_bounded_turns(Context& ctx, const std::string& label, const std::string& hint,
                           std::uint64_t max_turn);

}  // namespace csd::grade
