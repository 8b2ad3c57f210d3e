#pragma once
/// @file timing.hpp
/// @brief The grader's one timing scale: every deadline, pause and time
/// threshold of every check is multiplied by the same factor.
///
/// A slow machine or a sanitizer build grades the same server the same way
/// with a larger factor (`csd-grade --time-scale 3`, or the environment
/// variable CSD_TIME_SCALE). Deadline's constructor scales by itself; code
/// that sleeps or compares a measured time uses scaled().

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace csd::grade {

/// The current factor (1 unless set). Any thread.
[[nodiscard]] double time_scale() noexcept;

/// Sets the factor; values outside [0.1, 100] are refused (returns false).
/// Call from the main thread before any check runs.
bool set_time_scale(double factor) noexcept;

/// Parses a factor as given on the command line or in CSD_TIME_SCALE
/// ("2", "1.5"); nullopt when it is not a number in [0.1, 100]. Pure.
[[nodiscard]] std::optional<double> parse_time_scale(std::string_view text) noexcept;

/// @p d multiplied by time_scale(), in the steady clock's units.
template <typename Rep, typename Period>
[[nodiscard]] std::chrono::steady_clock::duration scaled(std::chrono::duration<Rep, Period> d) {
    using Target = std::chrono::steady_clock::duration;
    const std::chrono::duration<double, typename Target::period> exact =
        std::chrono::duration_cast<Target>(d);
    return std::chrono::duration_cast<Target>(exact * time_scale());
}

/// @p seconds multiplied by time_scale(), written for a command line
/// ("5", "15", "2.5"): the deadlines the grader hands to csd-client. Any thread.
[[nodiscard]] std::string scaled_seconds_arg(double seconds);

/// Seconds in @p d once scaled, for messages ("within 15 s"). Any thread.
template <typename Rep, typename Period>
[[nodiscard]] double scaled_seconds(std::chrono::duration<Rep, Period> d) {
    return std::chrono::duration<double>(scaled(d)).count();
}

}  // namespace csd::grade
