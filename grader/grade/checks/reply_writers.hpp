#pragma once
/// @file reply_writers.hpp
/// @brief Which thread of the server holds each connection while its reply
/// is being sent, seen with no tracer attached: each held connection asks
/// for a reply larger than the socket buffers and the grader reads none of
/// it, so the thread that serves it stays blocked writing to its socket, or
/// waiting for room in it (/proc/TID/syscall, waits.hpp). The evidence
/// against a thread that writes for every connection while the others only
/// wait (pools.cpp). Main thread only.

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "check.hpp"
#include "net.hpp"
#include "waits.hpp"

namespace csd::grade {

/// The rule, pure: with the server's sockets @p conn_fds (one per held
/// connection, each owed a reply it cannot send yet) and what each thread
/// of the server waits in (@p waits), every socket has exactly one thread
/// waiting to write to it, and no thread waits to write to two of them. A
/// thread in io_uring_enter() may be writing to any one of them: as many
/// of those as there are sockets no thread is seen on make up for them.
/// nullopt when the rule holds; else what breaks it, for a message.
[[nodiscard]] std::optional<std::string> reply_writers_problem(
    const std::vector<int>& conn_fds, const std::vector<waits::TaskWait>& waits);

/// Asks for a reply of 16 MiB on each of @p held, reads none of it until
/// the server's threads are blocked writing (given 2 s, scaled), then reads
/// and checks every reply. Fails (CheckFailed, @p hint) when
/// reply_writers_problem() finds one; logs and returns where
/// /proc/TID/syscall cannot be read.
void require_reply_writers(Context& ctx, std::vector<Connection>& held, const std::string& hint);

}  // namespace csd::grade
