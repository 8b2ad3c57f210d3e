#pragma once
/// @file children.hpp
/// @brief Forking the children, collecting their reports, reaping them.

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "address.hpp"
#include "options.hpp"
#include "tally.hpp"

namespace csd::client {

/// Owns the child processes of the client: when destroyed, kills
/// (SIGKILL) and reaps every child not yet reaped, so that no child
/// outlives the client and none is left a zombie. Parent process, main
/// thread only.
class Children {
  public:
    Children() = default;
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    /// Kills and reaps what is left.
    ~Children();

    /// Adopts child number @p number, process @p pid.
    void add(int number, pid_t pid);
    /// Sends @p signal to every child not yet reaped.
    void signal_all(int signal) noexcept;
    /// Waits for every child; returns (child number, wait status) pairs.
    [[nodiscard]] std::vector<std::pair<int, int>> reap_all();

  private:
    std::vector<std::pair<int, pid_t>> running_;
};

/// "exited with status 3", "killed by signal 9"... for a wait status.
[[nodiscard]] std::string describe_wait_status(int status);

/// Forks options.children children (each runs run_child()), adds up their
/// reports in @p tally until they are all done, reaps them all. The caller
/// routes SIGINT and SIGTERM first (csd::route_signals(), once per
/// process): one of them kills the children and ends the run early, the
/// return value is then false.
[[nodiscard]] bool run_children(const ClientOptions& options, const Address& address, Tally& tally);

}  // namespace csd::client
