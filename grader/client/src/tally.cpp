#include "tally.hpp"

#include <fmt/core.h>

#include <utility>

namespace csd::client {

Tally::Tally(int children, std::uint64_t per_child, std::size_t max_shown)
    : children_(children),
      per_child_(per_child),
      max_shown_(max_shown),
      reported_(static_cast<std::size_t>(children) + 1, 0) {}

std::uint64_t Tally::total() const noexcept {
    return static_cast<std::uint64_t>(children_) * per_child_;
}

void Tally::add_line(std::string_view line) {
    if (const auto record = decode(line)) return add(*record);
    note_failure(fmt::format("garbled report from a child: \"{}\"", line.substr(0, 80)));
}

void Tally::add(const Record& record) {
    if (record.child < 1 || record.child > children_ || record.connection < 1 ||
        record.connection > per_child_ ||
        reported_[static_cast<std::size_t>(record.child)] >= per_child_) {
        note_failure(fmt::format("unexpected report: child {}, connection {}", record.child,
                                 record.connection));
        return;
    }
    ++reported_[static_cast<std::size_t>(record.child)];
    ++reported_total_;
    if (record.ok) {
        ++ok_;
        latencies_.push_back(record.latency_ns);
    } else {
        note_failure(fmt::format("child {}, connection {}: {}", record.child, record.connection,
                                 record.message));
    }
}

void Tally::child_ended(int child, const std::string& how) {
    if (child < 1 || child > children_) return;
    const std::uint64_t reported = reported_[static_cast<std::size_t>(child)];
    if (reported < per_child_)
        note_failure(fmt::format("child {}: {} after {} of {} connections", child, how, reported,
                                 per_child_),
                     true);
}

void Tally::note_failure(std::string line, bool always) {
    ++failure_lines_;
    if (always || shown_.size() < max_shown_) shown_.push_back(std::move(line));
}

}  // namespace csd::client
