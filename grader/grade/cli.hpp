#pragma once
/// @file cli.hpp
/// @brief The csd-grade command line (docs/contract.md section 4).

#include <optional>
#include <string>
#include <vector>

namespace csd::grade {

/// What csd-grade was asked to do.
struct CommandLine {
    std::string lab;                  ///< LAB (may be empty with --list).
    std::string server;               ///< SERVER.
    std::string json_file;            ///< --json FILE, empty when not given.
    std::vector<std::string> checks;  ///< --check ID..., empty: all.
    bool list = false;                ///< --list.
    bool verbose = false;             ///< -v.
    double time_scale = 0;            ///< --time-scale X; 0 when not given.
    bool autolab = false;             ///< --autolab (-A): last line the Autolab autoresult.
    std::string lock_dir;             ///< --lock-dir DIR, empty when not given.
    bool hidden = false;              ///< --hidden: --list shows the hidden checks too.
    /// --hidden-visibility V: Gradescope visibility of the hidden checks' results.
    std::string hidden_visibility = "after_published";
    double deadline = 0;       ///< --deadline SECONDS (whole run, unscaled); 0: default.
    bool leaderboard = false;  ///< --leaderboard: measure the server's speed after grading.
    std::string reference;     ///< --reference PROGRAM: the server to compare it with.
    /// --tsan PROGRAM: a ThreadSanitizer build of SERVER, for the races check.
    std::string tsan;
};

/// Parses `csd-grade LAB SERVER [--json FILE] [--check ID]... [--list] [-v]`.
/// Returns nullopt after printing help (then @p exit_status is 0) or a
/// usage error (then 2). Main thread only.
std::optional<CommandLine> parse_command_line(int argc, char** argv, int& exit_status);

}  // namespace csd::grade
