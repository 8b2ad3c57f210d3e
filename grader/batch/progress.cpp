#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace csd::batch {

Progress::Progress() : tty_(::isatty(STDOUT_FILENO) == 1) {}

void Progress::status(std::string_view text) {
    if (!tty_ || text == shown_) return;
    shown_ = text;
    fmt::print("\r\033[K{}", shown_);
    std::fflush(stdout);
}

void Progress::line(std::string_view text) {
    if (tty_) {
        fmt::print("\r\033[K{}\n{}", text, shown_);
    } else {
        fmt::print("{}\n", text);
    }
    std::fflush(stdout);
}

void Progress::finish() {
    if (tty_ && !shown_.empty()) fmt::print("\n");
    shown_.clear();
    std::fflush(stdout);
}

}  // namespace csd::batch
