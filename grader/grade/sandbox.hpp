#pragma once
/// @file sandbox.hpp
/// @brief What confines a graded program: resource limits (set in the child
/// between fork and exec), its own session, and, when the kernel allows it
/// (root), a PID namespace whose first process is the grader's own small init.
///
/// The limits are computed once (sandbox_limits()) before any graded
/// program starts; apply_limits() runs in a forked child and only makes
/// async-signal-safe calls. Everything else: main thread or any thread
/// after setup (the values are immutable once computed).

#include <sys/resource.h>

#include <cstddef>
#include <optional>
#include <string>

namespace csd::grade {

/// One resource limit to set in the child (soft and hard).
struct ChildLimit {
    int resource = -1;  ///< RLIMIT_*; -1: this slot is unused.
    rlim_t soft = 0;    ///< Soft limit.
    rlim_t hard = 0;    ///< Hard limit.
};

/// The limits of a graded program; a plain array so that the forked child
/// can walk it without allocating.
struct ChildLimits {
    static constexpr std::size_t max = 8;  ///< Slots.
    ChildLimit limits[max] = {};           ///< The limits; unused slots have resource -1.
    std::size_t count = 0;                 ///< Slots in use.
};

/// What the sandbox of this grading run is, fixed by configure_sandbox().
struct SandboxInfo {
    bool pid_namespace = false;  ///< Graded programs run in a PID namespace of their own.
    std::string summary;         ///< "pid namespace + rlimits" or "rlimits only", for the report.
};

/// Once, from the main thread, before any graded program starts: probes
/// whether a PID namespace can be made (root, and the kernel agrees) and
/// fixes the limits; @p cpu_seconds bounds the CPU time of each graded
/// process (the whole-run deadline). Returns what it chose.
const SandboxInfo& configure_sandbox(double cpu_seconds);

/// What configure_sandbox() chose ("rlimits only" before it ran).
[[nodiscard]] const SandboxInfo& sandbox_info();

/// The limits for the graded program at @p path: descriptors for the
/// 10,000-connection checks, CPU time, file size, no core dumps, a memory
/// bound (RLIMIT_DATA; none for a sanitizer build, whose shadow memory
/// counts as data) and, when not root, a process count. With @p open_files,
/// RLIMIT_NOFILE is that (soft and hard; at most the grader's own hard
/// limit) instead of the default. Main thread.
[[nodiscard]] ChildLimits sandbox_limits(const std::string& path,
                                         std::optional<rlim_t> open_files = std::nullopt);

/// In a forked child only (async-signal-safe): sets every limit of
/// @p limits; returns 0 or the errno of the first that failed.
int apply_limits(const ChildLimits& limits) noexcept;

/// True when the executable at @p path was built with a sanitizer
/// (AddressSanitizer, ThreadSanitizer, MemorySanitizer): its runtime
/// reserves terabytes of address space. Reads the file; false when it cannot.
[[nodiscard]] bool built_with_sanitizer(const std::string& path);

/// True when the executable at @p path was built with ThreadSanitizer
/// (-fsanitize=thread: it holds __tsan_init). Reads the file (once, as
/// built_with_sanitizer() does); false when it cannot.
[[nodiscard]] bool built_with_thread_sanitizer(const std::string& path);

}  // namespace csd::grade
