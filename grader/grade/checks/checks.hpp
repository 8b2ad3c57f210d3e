#pragma once
/// @file checks.hpp
/// @brief Included by the checks' files; declares what a check's file gives
/// beyond itself (for the tests). Each check is a file of its own,
/// checks/ID.cpp (ID with '_' for '-'): its function, declared beside it by
/// CSD_CHECK (check.hpp), and the helpers only it uses.
/// Each returns when the server passed and throws CheckFailed with what it
/// saw otherwise. Each makes its own traffic, so it can run alone (--check
/// ID), and bounds every wait. Main thread only.

#include <map>
#include <string>
#include <string_view>

#include "check.hpp"
#include "timing.hpp"

namespace csd::grade {

/// Fails the check when the server looked for its tracer while strace
/// watched it (tracer_probe(), trace.hpp, on the text @p trace).
void require_no_tracer_probe(Context& ctx, const std::string& trace);

/// Fails the check when the process traced in @p trace looked for its
/// tracer (tracer_probe(), trace.hpp), @p who ("the program") naming it in
/// the message; @p root, when > 0, is the process whose tree is searched
/// for a descriptor open on a status file too (0: the trace alone).
void require_no_tracer_probe(const std::string& trace, pid_t root, std::string_view who);

/// ring-io: the calls per name in the strace text @p trace (lines of
/// `strace -f`), leaving out those on descriptors 0 to 2 (a log line).
[[nodiscard]] std::map<std::string, int> ring_io_socket_calls(const std::string& trace);

}  // namespace csd::grade
