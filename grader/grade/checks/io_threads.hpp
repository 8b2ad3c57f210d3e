#pragma once
/// @file io_threads.hpp
/// @brief Which thread of the server reads and writes each of a set of held
/// connections, seen from outside with strace -f while one more request is
/// served on each: the evidence against decoy threads (pools.cpp,
/// reactor_loops.cpp). Main thread only.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "check.hpp"
#include "net.hpp"

namespace csd::grade {

/// Who moved the bytes of a set of held connections, seen with strace -f.
struct IoThreads {
    /// For each thread, the indexes of the held connections it moved bytes
    /// on (a read, recv, write or send that returned > 0).
    std::map<pid_t, std::set<std::size_t>> served;
    /// The threads that submitted work to an io_uring (io_uring_enter with
    /// something to submit): their reads and writes are in the ring, which
    /// strace does not show per connection.
    std::set<pid_t> ring_submitters;
    /// How often each thread went to sleep while those requests were
    /// served under strace (voluntary_ctxt_switches grown; absent: not
    /// once).
    std::map<pid_t, std::uint64_t> woke;
};

/// Who moved the bytes while the grader sent one more 100-byte request on
/// each of @p held and read its reply, under strace -f. Fails
/// (CheckFailed) when a reply is wrong or the server looks for its tracer;
/// nullopt, after a log line, where strace cannot attach.
[[nodiscard]] std::optional<IoThreads> io_threads(Context& ctx, std::vector<Connection>& held);

}  // namespace csd::grade
