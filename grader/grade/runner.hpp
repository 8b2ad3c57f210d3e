#pragma once
/// @file runner.hpp
/// @brief Runs the selected checks of a lab against a server: starts it,
/// restarts it when a check left it dead or unresponsive, stops it.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "registry.hpp"
#include "report.hpp"

namespace csd::grade {

/// Each check's own deadline (scaled): a check still running then is
/// ended as failed. Generous: the flakiness run reports how close each came.
inline constexpr std::chrono::seconds check_deadline{60};

/// Sets the whole-run deadline of the next run_checks(): @p timeout
/// (scaled) from now. When it hits, the check running is ended as failed
/// and the remaining ones are reported as not run, with 0 points; the
/// results so far are kept. None unless set. Main thread.
void set_whole_run_deadline(std::chrono::milliseconds timeout);

/// Starts @p server_path, runs @p selection in order and returns the
/// results; @p on_result sees each as soon as it is known. No process of
/// the server is left when this returns (or throws). Throws
/// std::system_error when the server cannot be spawned at all. For a
/// program lab (LabKind::program) nothing is started here: each check runs
/// the program itself, and every process it left is killed after the check.
/// Main thread only.
std::vector<CheckResult> run_checks(const LabInfo& lab,
                                    const std::vector<const CheckInfo*>& selection,
                                    const std::string& server_path, bool verbose,
                                    const std::function<void(const CheckResult&)>& on_result);

}  // namespace csd::grade
