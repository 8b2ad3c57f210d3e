#pragma once
/// @file trace.hpp
/// @brief strace attached to a server for a while, to see its system calls
/// from outside (ptrace: allowed on the grader's own children, unless the
/// machine forbids it). What the text says is read by strace_text.hpp.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "csd/fd.hpp"

namespace csd::grade {

/// strace attached to process @p pid and its threads, tracing the system
/// calls @p calls ("write,sendto"), from construction to finish(). Owns the
/// strace process and the memory file it writes to; a trace never finished
/// is ended by the destructor. Use from one thread.
class Strace {
  public:
    /// Starts strace and waits (up to 3 s, scaled) until it traces @p pid.
    /// When there is no strace, or it cannot attach, attached() is false
    /// and why_not() says why. With @p show_signals the trace also has a
    /// line `--- SIGNAME {...} ---` for each signal delivered to the process
    /// (to a handler, or to its default action).
    Strace(pid_t pid, const std::string& calls, bool show_signals = false);
    ~Strace();
    Strace(const Strace&) = delete;
    Strace& operator=(const Strace&) = delete;

    /// True when strace traces the process.
    [[nodiscard]] bool attached() const noexcept { return why_not_.empty(); }

    /// Why there is no trace ("strace is not installed..."), "" when attached.
    [[nodiscard]] const std::string& why_not() const noexcept { return why_not_; }

    /// Detaches strace (SIGINT) and returns what it wrote: one line per
    /// system call. Call once, when attached.
    std::string finish();

  private:
    void end();

    csd::Fd out_;          // memfd strace writes its trace (and errors) to
    pid_t strace_ = -1;    // the strace process, -1 once reaped
    std::string why_not_;  // set when there is no trace
};

/// The strace program on PATH, or "" when there is none.
[[nodiscard]] std::string find_strace();

/// The calls to add to a trace's list (",open,openat,ptrace") so that
/// tracer_probe() sees a server look for its tracer.
inline constexpr const char* tracer_probe_calls = ",open,openat,ptrace";

/// True for the calls of tracer_probe_calls: not the server's work, a
/// check that counts the traced calls leaves them out.
[[nodiscard]] bool is_tracer_probe_call(std::string_view name) noexcept;

/// Where a server looks for its tracer, to behave well only while it is
/// watched: a line of @p trace (traced with tracer_probe_calls) that opens
/// a /proc/.../status file (its TracerPid line) or calls ptrace(), or a
/// descriptor of @p root's process tree open on such a file (@p root <= 0:
/// the trace alone, for a program that has ended). "" when there is none.
/// A lab server has no reason to do either.
[[nodiscard]] std::string tracer_probe(const std::string& trace, pid_t root);

}  // namespace csd::grade
