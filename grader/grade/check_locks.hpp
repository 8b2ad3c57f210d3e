#pragma once
/// @file check_locks.hpp
/// @brief Locks that keep the heavy checks of several graders running at
/// once (`csd-batch --jobs N`) from overlapping.
///
/// A check that keeps both cores busy, holds thousands of sockets, or
/// measures CPU, wakeups or a short deadline would measure the other
/// grader's load instead of its server. Such checks name their locks in
/// their declaration (CheckInfo::locks, registry.cpp); with `csd-grade --lock-dir DIR` each of them
/// holds an exclusive flock(2) on DIR/LOCK for each of its locks while it runs, so graders sharing
/// DIR run them one at a time and everything else in parallel. Without a lock directory nothing is
/// locked.

#include <string>
#include <string_view>
#include <vector>

#include "csd/fd.hpp"

namespace csd::grade {

/// The locks check @p check_id declares (CheckInfo::locks: "connections",
/// "cpu"), sorted; empty for a light check or an unknown id. Pure.
[[nodiscard]] std::vector<std::string_view> check_locks(std::string_view check_id);

/// Sets the lock directory (empty: no locking). Main thread, before any
/// check runs.
void set_lock_dir(std::string dir);

/// Holds the locks of one check (check_locks()) for its lifetime, taken in
/// sorted order so that graders never wait on each other in a cycle. Owns
/// one descriptor per lock file; the thread running the check uses it.
class CheckLockGuard {
  public:
    /// Blocks until every lock of @p check_id is held (nothing to do without
    /// a lock directory). Throws std::system_error when a lock file cannot
    /// be opened or locked.
    explicit CheckLockGuard(std::string_view check_id);

  private:
    std::vector<csd::Fd> held_;
};

}  // namespace csd::grade
