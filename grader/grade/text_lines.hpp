// Splitting a captured text (strace output, /proc/PID/maps, a sanitizer's
// stderr) into its lines: a pure helper that the checks share.
#pragma once

#include <string_view>
#include <vector>

namespace csd::grade {

/// The lines of @p text, each without its '\n', in order; empty lines are
/// kept, and a last line without '\n' is a line. The views point into
/// @p text, so they live as long as it does.
[[nodiscard]] std::vector<std::string_view> lines_of(std::string_view text);

}  // namespace csd::grade
