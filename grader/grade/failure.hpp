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
