#pragma once
/// @file trace.hpp
/// @brief Watching a server's output system calls from outside, with
/// strace attached for a while (ptrace: the grader's own children only).

#include <sys/types.h>

#include <string>
#include <variant>
#include <vector>

namespace csd::grade {

/// One output call that the traced process made and that succeeded.
struct OutputCall {
    std::string name;      ///< "write", "writev", "send", "sendto" or "sendmsg"
    int fd = -1;           ///< the descriptor it wrote to
    long long result = 0;  ///< its return value: the bytes it wrote
};

/// What a trace saw: the output calls, or why there is no trace (no
/// strace on the machine, ptrace refused...).
using TraceResult = std::variant<std::vector<OutputCall>, std::string>;

/// strace attached to process @p pid (and its threads) for the life of this
/// object: owns the strace process and its temporary output file, both gone
/// when the object is. Use from one thread.
class OutputTrace {
public:
    /// Starts strace on @p pid and waits (up to 2 s, scaled) until it is
    /// attached; if it cannot attach, finish() says why.
    explicit OutputTrace(pid_t pid);
    ~OutputTrace();
    OutputTrace(const OutputTrace&) = delete;
    OutputTrace& operator=(const OutputTrace&) = delete;

    /// Detaches strace and returns the successful output calls it saw since
    /// it attached, or why there is no trace. Call once.
    TraceResult finish();

private:
    std::string path_;        // strace's output file
    pid_t strace_ = -1;       // the strace process, -1 once reaped
    std::string why_not_;     // set when strace could not attach
};

/// The output calls in strace output @p text (lines of "[PID ]name(fd, ...)
/// = N"); unfinished, failed and other calls are left out. Pure.
std::vector<OutputCall> parse_output_calls(const std::string& text);

}  // namespace csd::grade
