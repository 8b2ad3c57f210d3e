#pragma once
/// @file command.hpp
/// @brief Running a helper program (csd-client) to completion, with a
/// deadline, capturing its output.

#include <chrono>
#include <string>
#include <vector>

namespace csd::grade {

/// How a command run ended.
struct CommandResult {
    bool timed_out = false;  ///< Killed at the deadline.
    int status = -1;         ///< Wait status (when not timed out).
    double seconds = 0;      ///< Wall time.
    std::string output;      ///< stdout and stderr, interleaved.

    /// True when it exited with status 0 in time.
    [[nodiscard]] bool succeeded() const;
};

/// Runs @p argv (argv[0] a path) in its own process group, stdin
/// /dev/null, stdout+stderr captured; kills it and everything it started
/// when @p timeout passes. Throws std::system_error when it cannot start.
/// Main thread only.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

/// The path of program @p name in the directory of the running grader
/// (dirname of /proc/self/exe).
[[nodiscard]] std::string sibling_program(const std::string& name);

/// @p argv joined with spaces, for messages. Pure.
[[nodiscard]] std::string command_text(const std::vector<std::string>& argv);

}  // namespace csd::grade
