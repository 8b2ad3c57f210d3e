#pragma once
/// @file client_run.hpp
/// @brief Running csd-client (next to csd-grade) against the server as a check step.

#include <chrono>
#include <string>
#include <vector>

#include "check.hpp"

namespace csd::grade {

/// Runs `csd-client -i 127.0.0.1 -p PORT ARGS...` with @p timeout; throws
/// CheckFailed (with the command and the tail of its output) unless it
/// exits with status 0 in time. Main thread only.
void run_client(Context& ctx, const std::vector<std::string>& args,
                std::chrono::milliseconds timeout);

}  // namespace csd::grade
