#pragma once
/// @file request_wakeups.hpp
/// @brief Which threads of the server wake up for each of a series of
/// requests, sent one at a time on held connections, seen in /proc
/// (voluntary_ctxt_switches per task) with no tracer attached: the
/// untraced evidence against a thread that serves every connection while
/// the others only wait (pools.cpp, reactor_loops.cpp). Main thread only.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "net.hpp"

namespace csd::grade {

/// What the threads of the server did while requests came in one at a time.
struct RequestWakeups {
    /// Per request, in order: the threads that went to sleep again after
    /// it (their voluntary context switches grew).
    std::vector<std::set<pid_t>> woke;
    /// The threads that woke for every request, and for them beyond what
    /// they do on their own: a thread with a timer of its own (a
    /// sanitizer's, a housekeeping thread) wakes as often while the server
    /// is idle and is left out.
    std::set<pid_t> every;
};

/// Sends a request for @p bytes on each of @p conns in turn, reads its
/// reply, and records which threads of the server woke up for it (the
/// routed-signal thread `csd-signals` left out); then watches the server
/// idle for twice as long, to tell a thread that serves every request from
/// one that wakes up on a timer. Fails (CheckFailed) when a reply is wrong.
/// @p what names the requests in messages.
[[nodiscard]] RequestWakeups request_wakeups(Context& ctx, const std::vector<Connection*>& conns,
                                             std::size_t bytes, std::string_view what);

/// The rule of RequestWakeups::every, pure: the threads in every set of
/// @p woke (one set per request) whose wakeups while the requests were
/// served (@p busy) exceed half their wakeups in an idle time twice as
/// long (@p idle_twice) by at least one less than the number of requests.
[[nodiscard]] std::set<pid_t> woke_for_every_request(
    const std::vector<std::set<pid_t>>& woke, const std::map<pid_t, std::uint64_t>& busy,
    const std::map<pid_t, std::uint64_t>& idle_twice);

/// How often each thread of process @p pid went to sleep so far
/// (voluntary_ctxt_switches), the routed-signal thread `csd-signals` left
/// out.
[[nodiscard]] std::map<pid_t, std::uint64_t> switches_by_thread(pid_t pid);

/// The growth from @p before to @p after, per thread present in both and
/// grown.
[[nodiscard]] std::map<pid_t, std::uint64_t> switches_growth(
    const std::map<pid_t, std::uint64_t>& before, const std::map<pid_t, std::uint64_t>& after);

/// "12345 ("solution-thread"), 12346 ("worker")" for messages.
[[nodiscard]] std::string threads_text(pid_t pid, const std::set<pid_t>& tids);

}  // namespace csd::grade
