// csd-batch: grades a folder of submissions of one lab (docs/instructors.md,
// "Batch grading"): each built by csd-build-submission in its own
// directory, then graded by its own csd-grade, N at a time; writes a CSV
// and a JSON summary.
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "jobs.hpp"
#include "progress.hpp"
#include "registry.hpp"
#include "scoring.hpp"
#include "submissions.hpp"
#include "summary.hpp"
#include "timing.hpp"

namespace {

namespace fs = std::filesystem;
using namespace csd::batch;

constexpr int exit_done = 0;
constexpr int exit_error = 2;

struct Options {
    std::string lab;
    std::string dir;
    std::string out;
    int jobs = 1;
    int timeout = 900;
    double time_scale = 0;
    std::vector<std::string> checks;
};

// The cores this process may run on.
int cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return std::max(1, CPU_COUNT(&set));
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.close();
    return static_cast<bool>(out);
}

// The grader's timing scale: the one asked for (--time-scale, else
// $CSD_TIME_SCALE, else 1) times jobs/cores when there are more graders
// than cores (docs/instructors.md, "Batch grading": fairness).
std::optional<double> grader_time_scale(const Options& o) {
    double base = 1;
    if (o.time_scale > 0) {
        base = o.time_scale;
    } else if (const char* env = std::getenv("CSD_TIME_SCALE"); env != nullptr && *env != '\0') {
        const auto parsed = csd::grade::parse_time_scale(env);
        if (!parsed) return std::nullopt;
        base = *parsed;
    }
    const double share = std::max(1.0, static_cast<double>(o.jobs) / cores());
    return std::min(100.0, base * share);
}

int run(const Options& o) {
    const auto* lab = csd::grade::find_lab(o.lab);
    if (lab == nullptr || !lab->available || lab->hidden) {
        fmt::print(stderr, "csd-batch: unknown lab '{}' (csd-grade --list)\n", o.lab);
        return exit_error;
    }
    const auto selection = csd::grade::select_checks(*lab, o.checks);
    if (!selection.error.empty()) {
        fmt::print(stderr, "csd-batch: {}\n", selection.error);
        return exit_error;
    }
    LabColumns columns{.lab = o.lab};
    for (const auto* check : selection.checks) {
        columns.checks.emplace_back(std::string(check->id), csd::grade::check_points(*lab, *check));
    }
    const auto scale = grader_time_scale(o);
    if (!scale) {
        fmt::print(stderr, "csd-batch: CSD_TIME_SCALE is not a number from 0.1 to 100\n");
        return exit_error;
    }

    std::error_code ec;
    const fs::path bin = fs::read_symlink("/proc/self/exe", ec).parent_path();
    const fs::path builder = bin / "csd-build-submission";
    const fs::path grader = bin / "csd-grade";
    for (const auto& tool : {builder, grader}) {
        if (::access(tool.c_str(), X_OK) != 0) {
            fmt::print(stderr, "csd-batch: {} is missing: build it first\n", tool.string());
            return exit_error;
        }
    }
    Folder folder;
    try {
        folder = find_submissions(o.dir);
    } catch (const fs::filesystem_error& e) {
        fmt::print(stderr, "csd-batch: cannot read {}: {}\n", o.dir, e.code().message());
        return exit_error;
    }
    const fs::path out = fs::weakly_canonical(fs::absolute(o.out));
    // The results may go inside DIR: that entry is no submission.
    std::erase_if(folder.submissions, [&](const Submission& s) {
        if (fs::weakly_canonical(fs::absolute(s.source), ec) != out) return false;
        folder.ignored.push_back(s.source.filename().string());
        return true;
    });
    const fs::path students = out / "students";
    const fs::path locks = out / "locks";
    fs::create_directories(students, ec);
    fs::create_directories(locks, ec);
    if (ec) {
        fmt::print(stderr, "csd-batch: cannot create {}: {}\n", out.string(), ec.message());
        return exit_error;
    }

    const std::size_t total = folder.submissions.size();
    fmt::print(
        "csd-batch: lab {}, {} submissions in {}, {} at a time, grader time scale {:g}; "
        "results in {}\n",
        o.lab, total, o.dir, o.jobs, *scale, out.string());
    for (const auto& name : folder.ignored)
        fmt::print("csd-batch: ignored {} (no submission)\n", name);
    std::fflush(stdout);
    init_jobs();
    Progress progress;

    std::vector<StudentResult> results(total);
    std::vector<fs::path> dirs(total);
    // Phase 1: build every submission (compilers only: no grader runs yet).
    std::vector<Task> builds;
    for (std::size_t i = 0; i < total; ++i) {
        const auto& s = folder.submissions[i];
        results[i].student = s.student;
        results[i].max_score = columns.max_score();
        dirs[i] = students / s.student;
        fs::remove_all(dirs[i], ec);
        fs::create_directories(dirs[i], ec);
        builds.push_back(
            {.argv = {builder.string(), o.lab, fs::absolute(s.source).string(), dirs[i].string()},
             .log = (dirs[i] / "build-messages.txt").string(),
             .limit = std::chrono::seconds(600)});
    }
    std::size_t built = 0, build_errors = 0, done = 0;
    bool finished = run_tasks(
        builds, o.jobs,
        [&](std::size_t i, const Outcome& outcome) {
            auto& r = results[i];
            r.seconds += outcome.seconds;
            ++done;
            if (outcome.status == 0) {
                r.status = Status::built;
                ++built;
                return;
            }
            r.status = Status::build_error;
            r.message = first_error_line(read_file(dirs[i] / "build.log"));
            ++build_errors;
            progress.line(fmt::format("{}: build error: {}", r.student, r.message));
        },
        [&](int running) {
            progress.status(fmt::format("building: {}/{} done, {} running, {} build errors", done,
                                        total, running, build_errors));
        });
    progress.finish();

    // Phase 2: grade what built, each by its own csd-grade.
    std::vector<Task> grades;
    std::vector<std::size_t> graded;
    for (std::size_t i = 0; finished && i < total; ++i) {
        if (results[i].status != Status::built) continue;
        Task task{.argv = {grader.string(), o.lab, (dirs[i] / ("submission-" + o.lab)).string(),
                           "--json", (dirs[i] / "results.json").string(), "--time-scale",
                           fmt::format("{:g}", *scale), "--lock-dir", locks.string()},
                  .log = (dirs[i] / "grade.log").string(),
                  .limit = std::chrono::seconds(o.timeout)};
        for (const auto& id : o.checks) {
            task.argv.push_back("--check");
            task.argv.push_back(id);
        }
        fs::remove(dirs[i] / "results.json", ec);
        grades.push_back(std::move(task));
        graded.push_back(i);
    }
    std::size_t full = 0, below = 0, failed = 0;
    done = 0;
    finished =
        finished &&
        run_tasks(
            grades, o.jobs,
            [&](std::size_t k, const Outcome& outcome) {
                const std::size_t i = graded[k];
                auto& r = results[i];
                r.seconds += outcome.seconds;
                ++done;
                const std::string log = read_file(dirs[i] / "grade.log");
                const bool exited = outcome.status >= 0 && WIFEXITED(outcome.status);
                const int code = exited ? WEXITSTATUS(outcome.status) : -1;
                nlohmann::json json;
                try {
                    json = nlohmann::json::parse(read_file(dirs[i] / "results.json"));
                } catch (const nlohmann::json::exception&) {
                }
                if (outcome.timed_out) {
                    r.status = Status::timeout;
                    read_check_lines(log, r);
                    r.message = fmt::format(
                        "grading took over {} s: stopped (the checks done count)", o.timeout);
                } else if ((code == 0 || code == 1) && read_results(json, r)) {
                    r.status = Status::built;
                } else {
                    r.status = Status::grader_error;
                    read_check_lines(log, r);
                    r.message = fmt::format("csd-grade ended with status {}: {}", outcome.status,
                                            first_error_line(log));
                }
                if (r.status == Status::built && r.score == r.max_score) {
                    ++full;
                } else if (r.status == Status::built) {
                    ++below;
                } else {
                    ++failed;
                }
                progress.line(fmt::format("{}: {} {}/{} ({:.1f} s){}", r.student,
                                          status_name(r.status), r.score, r.max_score, r.seconds,
                                          r.message.empty() ? "" : ": " + r.message));
            },
            [&](int running) {
                progress.status(
                    fmt::format("grading: {}/{} done, {} running, {} full, {} below full, "
                                "{} failed",
                                done, grades.size(), running, full, below, failed));
            });
    progress.finish();
    end_strays();
    if (!finished) {
        fmt::print(stderr, "csd-batch: stopped by a signal; no summary written\n");
        return exit_error;
    }

    const bool ok = write_file(out / "summary.csv", summary_csv(columns, results)) &&
                    write_file(out / "summary.json", summary_json(columns, results).dump(2) + "\n");
    if (!ok) {
        fmt::print(stderr, "csd-batch: cannot write the summaries in {}\n", out.string());
        return exit_error;
    }
    fmt::print(
        "csd-batch: {} submissions: {} full score, {} below, {} build errors, {} grader "
        "errors or timeouts\n",
        total, full, below, build_errors, failed);
    fmt::print("csd-batch: {} and {} (logs in {})\n", (out / "summary.csv").string(),
               (out / "summary.json").string(), students.string());
    return exit_done;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{
        "csd-batch: grades every submission of a folder for one lab: builds each (own "
        "directory), grades each with its own csd-grade, N at a time, and writes "
        "OUT/summary.csv and OUT/summary.json.\n"
        "A submission is a directory (a checkout of the course: its skeletons/LAB/; or a "
        "directory with the lab's sources) or a NAME.cpp file.\n"
        "Exit status: 0 all graded (whatever the scores), 2 usage error or stopped."};
    app.add_option("LAB", o.lab, "Lab id (csd-grade --list)")->required();
    app.add_option("DIR", o.dir, "The folder of submissions")->required();
    app.add_option("-j,--jobs", o.jobs, "Build and grade N submissions at once (default 1)")
        ->option_text("N")
        ->check(CLI::Range(1, 64));
    app.add_option("-o,--out", o.out, "Where the summaries and logs go (default: LAB-results)")
        ->option_text("DIR");
    app.add_option("--timeout", o.timeout,
                   "Per-student limit on grading, in seconds (default 900): the grader is "
                   "killed, the student marked timeout, the others go on")
        ->option_text("SECONDS")
        ->check(CLI::Range(1, 86400));
    app.add_option("--time-scale", o.time_scale,
                   "The graders' timing scale before the jobs/cores factor (default: "
                   "$CSD_TIME_SCALE, else 1)")
        ->option_text("X")
        ->check(CLI::Range(0.1, 100.0));
    app.add_option("--check", o.checks, "Grade only check ID (repeatable; start always runs)")
        ->option_text("ID")
        ->type_size(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : exit_error;
    }
    if (o.out.empty()) o.out = o.lab + "-results";
    try {
        return run(o);
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-batch: internal error: {}\n", e.what());
        end_strays();
        return exit_error;
    }
}
