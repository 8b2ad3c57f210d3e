#pragma once
/// @file io_threads.hpp
/// @brief Which thread of the server reads and writes each of a set of held
/// connections, seen from outside with strace -f while one more request is
/// served on each: the evidence against decoy threads (pools.cpp,
/// reactor_loops.cpp). Main thread only.

#include <sys/types.h>

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "check.hpp"
#include "net.hpp"

namespace csd::grade {

/// For each thread of the server, the indexes in @p held of the connections
/// it moved bytes on (a read, recv, write or send that returned > 0) while
/// the grader sent one more 100-byte request on each of @p held and read
/// its reply, under strace -f. Fails (CheckFailed) when a reply is wrong or
/// the server looks for its tracer; nullopt, after a log line, where strace
/// cannot attach.
[[nodiscard]] std::optional<std::map<pid_t, std::set<std::size_t>>> io_threads(
    Context& ctx, std::vector<Connection>& held);

}  // namespace csd::grade
