#pragma once
/// @file failure.hpp
/// @brief How a check says "failed, and this is what I saw".

#include <stdexcept>
#include <string>
#include <utility>

namespace csd::grade {

/// Thrown by a check (or a probe helper it calls) when the server did
/// something wrong. what() is the "saw:" text; hint, when not empty,
/// replaces the check's usual hint. A plain value: any thread.
class CheckFailed : public std::runtime_error {
  public:
    /// A failure showing @p saw, with the check's usual hint.
    explicit CheckFailed(const std::string& saw, std::string hint = {})
        : std::runtime_error(saw), hint_(std::move(hint)) {}
    /// The hint to show instead of the check's usual one (may be empty).
    [[nodiscard]] const std::string& hint() const noexcept { return hint_; }

  private:
    std::string hint_;
};

/// Thrown by a check that cannot observe what it needs (a /proc file it
/// may not read, a facility the machine lacks): not the server's fault.
/// what() is the reason. The check is reported "skipped" and left out of
/// the score. A plain value: any thread.
class CheckSkipped : public std::runtime_error {
  public:
    /// A skip for @p reason ("/proc/123/syscall: Permission denied").
    explicit CheckSkipped(const std::string& reason) : std::runtime_error(reason) {}
};

/// Throws CheckSkipped(@p reason).
[[noreturn]] inline void skip(const std::string& reason) {
    throw CheckSkipped(reason);
}

/// Throws CheckFailed(@p saw, @p hint).
[[noreturn]] inline void fail(const std::string& saw, std::string hint = {}) {
    throw CheckFailed(saw, std::move(hint));
}

/// Runs @p body; a CheckFailed from it is rethrown with "@p context: "
/// in front of what it saw, and with @p hint when that is not empty.
template <typename Body>
void in_context(const std::string& context, Body&& body, const std::string& hint = {}) {
    try {
        body();
    } catch (const CheckFailed& e) {
        throw CheckFailed(context + ": " + e.what(), hint.empty() ? e.hint() : hint);
    }
}

}  // namespace csd::grade
