// csd-grade: grades a lab server (docs/contract.md section 4).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "check_locks.hpp"
#include "checks/races.hpp"
#include "cli.hpp"
#include "io_uring_probe.hpp"
#include "leaderboard.hpp"
#include "process.hpp"
#include "registry.hpp"
#include "report.hpp"
#include "runner.hpp"
#include "sandbox.hpp"
#include "timing.hpp"

namespace {

using namespace csd::grade;

constexpr int exit_full = 0;
constexpr int exit_partial = 1;
constexpr int exit_error = 2;
/// The lab cannot be graded where the grader runs (io_uring disabled): no check ran.
constexpr int exit_unavailable = 3;
// The whole-run deadline (before scaling) unless --deadline says otherwise:
// the slowest lab grades in well under a minute.
constexpr double default_deadline_seconds = 300;

std::string lab_ids() {
    std::string ids;
    for (const auto& lab : labs()) {
        if (lab.hidden) continue;
        if (!ids.empty()) ids += ' ';
        ids += lab.id;
    }
    return ids;
}

// Checks the command line; returns the server path to run or prints why not.
std::optional<std::string> executable(const std::string& server) {
    std::error_code ec;
    const auto path = std::filesystem::absolute(server, ec);
    if (ec || !std::filesystem::is_regular_file(path, ec) || ::access(path.c_str(), X_OK) != 0) {
        fmt::print(stderr, "csd-grade: SERVER '{}' is not an executable file\n", server);
        return std::nullopt;
    }
    return path.string();
}

bool write_json(const std::string& file, const std::vector<CheckResult>& results,
                const LabInfo& lab, std::string_view visibility,
                const std::optional<nlohmann::json>& leaderboard) {
    std::ofstream out(file);
    nlohmann::json json = gradescope_json(results, lab, visibility);
    if (leaderboard) json["leaderboard"] = *leaderboard;
    out << json.dump(2) << '\n';
    out.close();
    if (!out) {
        fmt::print(stderr, "csd-grade: cannot write {}\n", file);
        return false;
    }
    return true;
}

// --leaderboard: the speed of @p path (and of --reference), printed; the
// leaderboard list for --json, nullopt when the server could not be
// measured (it did not start: its grading says why).
std::optional<nlohmann::json> measure_leaderboard(const CommandLine& line, const LabInfo& lab,
                                                  const std::string& path,
                                                  const std::vector<CheckResult>& results) {
    if (lab.kind == LabKind::program) {
        fmt::print("leaderboard: lab {} is a program, not a server: nothing to measure\n", lab.id);
        return std::nullopt;
    }
    const bool started = std::any_of(results.begin(), results.end(), [](const CheckResult& r) {
        return r.id == "start" && r.points == r.max_points && r.max_points > 0;
    });
    if (!started) {
        fmt::print("leaderboard: not measured (the server did not pass start)\n");
        return std::nullopt;
    }
    std::string problem;
    const auto graded = measure_speed(lab, path, problem);
    if (!graded) {
        fmt::print("leaderboard: not measured: {}\n", problem);
        return std::nullopt;
    }
    std::optional<SpeedFigures> reference;
    if (!line.reference.empty()) {
        if (const auto ref_path = executable(line.reference)) {
            reference = measure_speed(lab, *ref_path, problem);
            if (!reference)
                fmt::print("leaderboard: the reference was not measured: {}\n", problem);
        } else {
            fmt::print("leaderboard: no reference program {}\n", line.reference);
        }
    }
    fmt::print("{}", leaderboard_text(*graded, reference));
    std::fflush(stdout);
    return leaderboard_json(*graded, reference);
}

// --autolab: Autolab's autoresult, the last line of the output.
void print_autolab(const CommandLine& line, const std::vector<CheckResult>& results) {
    if (line.autolab) fmt::print("{}\n", autolab_json(results).dump());
}

int grade(const CommandLine& line) {
    const std::string& lab_id = line.lab;
    const std::string& server = line.server;
    const LabInfo* lab = find_lab(lab_id);
    if (lab == nullptr) {
        fmt::print(stderr, "csd-grade: unknown lab '{}'; labs: {}\n", lab_id, lab_ids());
        return exit_error;
    }
    if (!lab->available) {
        fmt::print(stderr, "csd-grade: lab '{}' ({}) is not yet available in this grader\n",
                   lab->id, lab->title);
        return exit_error;
    }
    const Selection selection = select_checks(*lab, line.checks);
    if (!selection.error.empty()) {
        fmt::print(stderr, "csd-grade: {}\n", selection.error);
        return exit_error;
    }
    races::set_tsan_build(line.tsan.empty() ? std::string()
                                            : std::filesystem::absolute(line.tsan).string());
    const auto path = executable(server);
    if (!path) {
        // No program to grade (a submission that did not build): 0 points each.
        std::vector<CheckResult> zeros;
        for (const CheckInfo* check : selection.checks)
            zeros.push_back({.id = std::string(check->id)});
        print_autolab(line, zeros);
        return exit_error;
    }
    if (lab->needs_io_uring) {
        if (const std::string why = io_uring_unavailable(); !why.empty()) {
            fmt::print(
                "csd-grade: lab {} SKIPPED: io_uring is not available here: {}. No check "
                "was run; grade this lab on a machine (or container) that allows "
                "io_uring.\n",
                lab->id, why);
            return exit_unavailable;
        }
    }

    init_process_control();
    double run_seconds = line.deadline > 0 ? line.deadline : default_deadline_seconds;
    if (const char* env = std::getenv("CSD_DEADLINE"); line.deadline <= 0 && env != nullptr) {
        if (const double seconds = std::atof(env); seconds >= 1) run_seconds = seconds;
    }
    set_whole_run_deadline(std::chrono::milliseconds(static_cast<long>(run_seconds * 1000)));
    // Each graded process may use at most the whole run in CPU time.
    const SandboxInfo& sandbox =
        configure_sandbox(scaled_seconds(std::chrono::duration<double>(run_seconds)));
    fmt::print("csd-grade: lab {} ({}), {} {}\n", lab->id, lab->title,
               lab->kind == LabKind::program ? "program" : "server", server);
    fmt::print("sandbox: {}; whole-run deadline {:g} s\n", sandbox.summary,
               scaled_seconds(std::chrono::duration<double>(run_seconds)));
    std::fflush(stdout);
    const auto results =
        run_checks(*lab, selection.checks, *path, line.verbose, [&](const CheckResult& r) {
            fmt::print("{}", format_result(r, *lab));
            std::fflush(stdout);
        });
    fmt::print("{}", format_score(results));
    std::optional<nlohmann::json> board;
    if (line.leaderboard) board = measure_leaderboard(line, *lab, *path, results);
    if (!line.json_file.empty() &&
        !write_json(line.json_file, results, *lab, line.hidden_visibility, board))
        return exit_error;
    print_autolab(line, results);
    return score(results) == max_score(results) ? exit_full : exit_partial;
}

}  // namespace

int main(int argc, char** argv) {
    int status = exit_error;
    const auto line = parse_command_line(argc, argv, status);
    if (!line) return status;
    if (line->list) {
        if (!line->lab.empty() && find_lab(line->lab) == nullptr) {
            fmt::print(stderr, "csd-grade: unknown lab '{}'; labs: {}\n", line->lab, lab_ids());
            return exit_error;
        }
        fmt::print("{}", format_list(line->lab, line->hidden));
        return exit_full;
    }
    if (line->lab.empty() || line->server.empty()) {
        fmt::print(stderr,
                   "csd-grade: usage: csd-grade LAB SERVER [--json FILE] [--check ID]... [-v]\n"
                   "       csd-grade --list\n");
        return exit_error;
    }
    if (line->time_scale > 0) {
        (void)set_time_scale(line->time_scale);
    } else if (const char* env = std::getenv("CSD_TIME_SCALE"); env != nullptr && *env != '\0') {
        const auto factor = parse_time_scale(env);
        if (!factor) {
            fmt::print(stderr, "csd-grade: CSD_TIME_SCALE='{}' is not a number from 0.1 to 100\n",
                       env);
            return exit_error;
        }
        (void)set_time_scale(*factor);
    }
    // The graded server must not know the grader's deadlines: a server that
    // read the factor could stretch a polling timer to fit a check's watch.
    ::unsetenv("CSD_TIME_SCALE");
    // --lock-dir, else CSD_LOCK_DIR (the test suite sets it for every
    // grading test: cmake/TestLocks.cmake).
    std::string lock_dir = line->lock_dir;
    if (const char* env = std::getenv("CSD_LOCK_DIR");
        lock_dir.empty() && env != nullptr && *env != '\0') {
        lock_dir = env;
    }
    if (std::error_code ec; !lock_dir.empty() && !std::filesystem::is_directory(lock_dir, ec)) {
        fmt::print(stderr, "csd-grade: lock directory {}: not a directory\n", lock_dir);
        return exit_error;
    }
    set_lock_dir(lock_dir);
    try {
        return grade(*line);
    } catch (const std::system_error& e) {
        fmt::print(stderr, "csd-grade: {}\n", e.what());
        kill_all_descendants(std::chrono::milliseconds(300));
        return exit_error;
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-grade: internal error: {}\n", e.what());
        kill_all_descendants(std::chrono::milliseconds(300));
        return exit_error;
    }
}
