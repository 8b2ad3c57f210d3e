#pragma once
/// @file tally.hpp
/// @brief The parent's count of what the children reported. Pure.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "record.hpp"

namespace csd::client {

/// Adds up the records of all children: connections that were exact,
/// their latencies, and the first few failure messages. A connection
/// never reported (a child that died) counts as failed. Owns plain data;
/// one thread at a time.
class Tally {
  public:
    /// Expects @p per_child records from each of @p children children
    /// (numbered from 1) and keeps the first @p max_shown failure lines.
    Tally(int children, std::uint64_t per_child, std::size_t max_shown = 10);

    /// Adds one pipe line (see record.hpp); a line that is no record is a failure of its own.
    void add_line(std::string_view line);
    /// Adds one record.
    void add(const Record& record);
    /// Child @p child ended as @p how says ("exited with status 3", ...).
    /// If it reported fewer connections than expected, that is a failure
    /// line, shown even past the limit of shown lines.
    void child_ended(int child, const std::string& how);

    /// Connections expected in all.
    [[nodiscard]] std::uint64_t total() const noexcept;
    /// Connections a child reported on, exact or not.
    [[nodiscard]] std::uint64_t reported() const noexcept { return reported_total_; }
    /// Connections whose reply was exact.
    [[nodiscard]] std::uint64_t ok() const noexcept { return ok_; }
    /// Connections that failed or were never reported: total() - ok().
    [[nodiscard]] std::uint64_t failed() const noexcept { return total() - ok_; }
    /// The failure lines kept, in arrival order, e.g.
    /// "child 2, connection 17: got 1000 of 4000 bytes, then EOF".
    [[nodiscard]] const std::vector<std::string>& shown() const noexcept { return shown_; }
    /// Failure lines there were in all (shown or not).
    [[nodiscard]] std::uint64_t failure_lines() const noexcept { return failure_lines_; }
    /// Latencies of the exact connections, in nanoseconds, in arrival order.
    [[nodiscard]] std::vector<std::uint64_t>& latencies() noexcept { return latencies_; }

  private:
    void note_failure(std::string line, bool always = false);

    int children_;
    std::uint64_t per_child_;
    std::size_t max_shown_;
    std::uint64_t ok_ = 0;
    std::uint64_t reported_total_ = 0;
    std::uint64_t failure_lines_ = 0;
    std::vector<std::uint64_t> reported_;  // records per child, index = child number
    std::vector<std::string> shown_;
    std::vector<std::uint64_t> latencies_;
};

}  // namespace csd::client
