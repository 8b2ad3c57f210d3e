#pragma once
/// @file progress.hpp
/// @brief The batch's progress on the terminal: one line rewritten in place
/// on a terminal, plain lines otherwise. Main thread only.

#include <string>
#include <string_view>

namespace csd::batch {

/// Writes progress to stdout. Owns nothing but the state of the status line.
class Progress {
  public:
    /// Rewrites the status line in place when stdout is a terminal (else
    /// nothing: plain lines say the same).
    Progress();

    /// Sets the status line (terminal only; redrawn only when it changed).
    void status(std::string_view text);

    /// Prints a line of its own: on a terminal above the status line, which
    /// is redrawn under it; otherwise a plain line.
    void line(std::string_view text);

    /// Ends the status line (a terminal gets its newline).
    void finish();

    /// Whether stdout is a terminal.
    [[nodiscard]] bool tty() const noexcept { return tty_; }

  private:
    bool tty_ = false;
    std::string shown_;
};

}  // namespace csd::batch
