#pragma once
/// @file deadline.hpp
/// @brief A point in time after which a wait gives up.

#include <algorithm>
#include <atomic>
#include <chrono>

#include "timing.hpp"

namespace csd::grade {

/// The time by which the check now running must end (its own deadline or
/// the whole run's, whichever comes first; set by the runner): no Deadline
/// lies beyond it. Clock::time_point::max() when none. Any thread.
inline std::atomic<std::chrono::steady_clock::time_point>& check_end() {
    static std::atomic<std::chrono::steady_clock::time_point> end{
        std::chrono::steady_clock::time_point::max()};
    return end;
}

/// A steady-clock deadline. A plain value: copy it freely, use it from any thread.
class Deadline {
  public:
    using Clock = std::chrono::steady_clock;

    /// A deadline @p timeout from now, multiplied by the timing scale
    /// (timing.hpp): every deadline of the grader scales with one factor.
    /// Never later than check_end(): every wait of a check gives up when
    /// the check's own or the whole run's deadline hits.
    explicit Deadline(Clock::duration timeout)
        : at_(std::min(Clock::now() + scaled(timeout), check_end().load())) {}

    /// A deadline @p timeout (scaled) from now that ignores check_end():
    /// for stopping and reaping processes, which must happen whatever the time.
    [[nodiscard]] static Deadline ignoring_run_end(Clock::duration timeout) {
        Deadline d(Clock::duration::zero());
        d.at_ = Clock::now() + scaled(timeout);
        return d;
    }

    /// The earlier of this deadline and @p timeout (scaled) from now.
    [[nodiscard]] Deadline within(Clock::duration timeout) const {
        Deadline other(timeout);
        other.at_ = std::min(other.at_, at_);
        return other;
    }

    /// The earlier of this deadline and, from now, @p fixed (not scaled: a
    /// time the server itself keeps, such as the contract's 10 s per rst
    /// client) plus @p margin (scaled).
    [[nodiscard]] Deadline within_fixed(Clock::duration fixed, Clock::duration margin) const {
        Deadline other(margin);
        other.at_ = std::min(Clock::now() + fixed + scaled(margin), at_);
        return other;
    }

    /// True once the deadline has passed.
    [[nodiscard]] bool expired() const { return Clock::now() >= at_; }

    /// Milliseconds left, rounded up, 0 when expired: a poll(2) timeout.
    [[nodiscard]] int poll_ms() const {
        const auto left = at_ - Clock::now();
        if (left <= Clock::duration::zero()) return 0;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        return static_cast<int>(std::min<decltype(ms)>(ms, 1'000'000));
    }

  private:
    Clock::time_point at_;
};

/// Seconds elapsed since @p start, for messages.
[[nodiscard]] inline double seconds_since(Deadline::Clock::time_point start) {
    return std::chrono::duration<double>(Deadline::Clock::now() - start).count();
}

}  // namespace csd::grade
