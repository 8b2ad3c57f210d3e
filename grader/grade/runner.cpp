#include "runner.hpp"

#include <sys/wait.h>

#include <fmt/format.h>

#include <map>
#include <optional>

#include "check.hpp"
#include "check_locks.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "program.hpp"
#include "scoring.hpp"
#include "served_file.hpp"
#include "trace.hpp"

namespace csd::grade {
namespace {

using namespace std::chrono_literals;

constexpr auto start_timeout = 5s;

// The whole-run deadline (set_whole_run_deadline()) and its length in seconds.
Deadline::Clock::time_point g_run_end = Deadline::Clock::time_point::max();
double g_run_seconds = 0;

bool run_over() {
    return Deadline::Clock::now() >= g_run_end;
}

// Before a check: fills @p r and returns false when the whole-run deadline
// has passed (the check is not run); else bounds every wait of the check
// by its own deadline and the whole run's.
bool begin_check(CheckResult& r) {
    r.deadline = scaled_seconds(check_deadline);
    if (run_over()) {
        r.saw = fmt::format("not run: the whole-run deadline ({:g} s) had passed", g_run_seconds);
        r.hint.clear();
        return false;
    }
    check_end() = std::min(g_run_end, Deadline::Clock::now() + scaled(check_deadline));
    return true;
}

// After a check: a check that was still running at its own or the whole
// run's deadline fails, whatever it concluded.
void end_check(CheckResult& r) {
    const auto end = check_end().load();
    check_end() = Deadline::Clock::time_point::max();
    if (Deadline::Clock::now() < end) return;
    const std::string why =
        end == g_run_end
            ? fmt::format("ended: the whole-run deadline ({:g} s) hit during this check",
                          g_run_seconds)
            : fmt::format("ended: the check was still running at its own deadline ({:g} s)",
                          r.deadline);
    r.passed = false;
    r.skipped = false;
    r.saw = r.saw.empty() ? why : why + "\n" + r.saw;
    r.hint.clear();
}

// Runs one check; fills passed/saw/hint (or skipped) of @p r.
void run_one(const CheckInfo& check, Context& ctx, CheckResult& r) {
    try {
        check.run(ctx);
        r.passed = true;
    } catch (const CheckFailed& e) {
        r.saw = e.what();
        if (!e.hint().empty()) r.hint = e.hint();
    } catch (const CheckSkipped& e) {
        r.skipped = true;
        r.saw = e.what();
        r.hint.clear();
    } catch (const std::exception& e) {
        r.saw = fmt::format("the check could not run: {}", e.what());
    }
}

// Ends result @p r of a check begun at @p begin: points when it passed,
// its time; logs the time, keeps it in @p results and reports it.
void finish_result(CheckResult& r, Deadline::Clock::time_point begin, Context& ctx,
                   std::vector<CheckResult>& results,
                   const std::function<void(const CheckResult&)>& on_result) {
    if (r.passed) {
        r.points = r.max_points;
        r.hint.clear();
    }
    r.seconds = seconds_since(begin);
    ctx.log("{} took {:.2f} s", r.id, r.seconds);
    results.push_back(r);
    on_result(r);
}

// @p file_args (`-f PATH`, or nothing) followed by @p args.
std::vector<std::string> with_file(const std::vector<std::string>& file_args,
                                   const std::vector<std::string>& args) {
    std::vector<std::string> all = file_args;
    all.insert(all.end(), args.begin(), args.end());
    return all;
}

// The id of the check of @p lab that runs first (start), whose mode the
// first start of the server uses.
std::string_view first_check_id(const LabInfo& lab) {
    for (const auto id : lab.checks) {
        const CheckInfo* check = find_check(id);
        if (check != nullptr && check->lifecycle == Lifecycle::first) return id;
    }
    return {};
}

// Empty when the server serves a fresh 4000-byte request; otherwise what went wrong.
std::string health_problem(Context& ctx) {
    try {
        fetch(ctx.reply(), ctx.port(), 4000, Deadline(2s), "health probe");
        return {};
    } catch (const std::exception& e) {
        return e.what();
    }
}

// `-m reuseport` for a message: the flags of @p check's mode in @p lab, or
// empty for the default mode.
std::string mode_flags(const LabInfo& lab, std::string_view check) {
    const LabMode* mode = check_mode(lab, check);
    if (mode == nullptr) return {};
    std::string flags;
    for (const auto a : mode->args) flags += (flags.empty() ? "" : " ") + std::string(a);
    return flags;
}

// The state of one grading run between checks. Main thread only.
//
// Each check runs against a server started with the flags of its mode
// (labs/labs.txt): the runner restarts the server when the flags change.
// A server that cannot start, or does not answer, in one mode fails the
// checks of that mode only: each set of flags keeps its own verdict, so a
// mode the student has not written yet costs its own checks and nothing
// else, whatever the order of the checks.
class Run {
  public:
    Run(Server& server, Context& ctx, const Readiness& first, std::vector<std::string> file_args)
        : server_(server), ctx_(ctx), file_args_(std::move(file_args)) {
        if (!first.accepting) {
            Unusable& u = unusable_[server_.args()];
            u.reason = "not run: the server did not start (see check start)";
        }
    }

    // Makes sure a usable server runs before @p check (not for start): with
    // the arguments that check needs, restarted when it died or stopped
    // serving. False when none can run in that check's mode (then
    // unusable() says why).
    bool prepare(const CheckInfo& check) {
        const auto args = with_file(file_args_, server_args(ctx_.lab(), check.id));
        const std::string flags = mode_flags(ctx_.lab(), check.id);
        const std::string in_mode = flags.empty() ? "" : " with `" + flags + "`";
        if (const auto it = unusable_.find(args); it != unusable_.end()) {
            reason_ = it->second.reason;
            if (!it->second.first_blocked.empty()) {
                // Told in full once (under the check that first saw it).
                it->second.reason = "not run: the server" + in_mode +
                                    " does not answer a 4000-byte request (see check " +
                                    it->second.first_blocked + ")";
                it->second.first_blocked.clear();
            }
            return false;
        }
        if (!server_.running()) {
            if (!ended_by_check_ && !start_failed_)
                note_ = fmt::format("note: the server {} before this check and was restarted",
                                    describe_wait_status(server_.status().value_or(-1)));
            restart_ = true;
        }
        ended_by_check_ = false;
        start_failed_ = false;
        if (args != server_.args()) restart_ = true;
        if (restart_) {
            ctx_.log("restarting the server{}", in_mode);
            restart_ = false;
            probed_ = false;
            const Readiness again = server_.start(start_timeout, args);
            if (!again.accepting) {
                start_failed_ = true;  // its death is no news to the next check
                reason_ = flags.empty()
                              ? "not run: the server could not be restarted: " + again.problem
                              : "not run: the server could not start" + in_mode + " (the mode `" +
                                    flags +
                                    "` of the handout; only the checks of that mode fail): " +
                                    again.problem;
                unusable_[args].reason = reason_;
                return false;
            }
        }
        if (!probed_) {
            // One quick request before the first check of this server: a
            // server that does not answer it would only make every check
            // of its mode wait out its own deadlines.
            probed_ = true;
            if (const auto problem = health_problem(ctx_); !problem.empty()) {
                reason_ = "not run: the server" + in_mode +
                          " does not answer a 4000-byte request: " + problem;
                if (!server_.running()) reason_ += "\n" + server_.death_report();
                unusable_[args] = {.reason = reason_, .first_blocked = std::string(check.id)};
                restart_ = true;  // the next mode starts afresh
                return false;
            }
        }
        return true;
    }

    // Why the check could not run (after prepare() returned false).
    [[nodiscard]] const std::string& unusable() const { return reason_; }

    // After a check of @p r that may leave the server running: explains a
    // failure (death, earlier restart) and decides whether to restart.
    void after(CheckResult& r, bool ends_server) {
        ended_by_check_ = ends_server;
        const bool failed = !r.passed && !r.skipped;
        if (failed && !ends_server) {
            // A dying process closes its sockets a moment before it can be reaped.
            (void)wait_child(server_.pid(), Deadline(100ms));
            const std::string death = server_.running() ? "" : server_.death_report();
            if (!death.empty() && r.saw.find(death) == std::string::npos) {
                r.saw += "\nmeanwhile " + death;
            }
        }
        // Said once: a server that stops serving after every check would
        // repeat it under every later failure.
        if (failed && !note_.empty() && !told_restart_) {
            r.saw += "\n" + note_;
            told_restart_ = true;
        }
        note_.clear();
        if (failed && !ends_server && server_.running() && !health_problem(ctx_).empty()) {
            restart_ = true;
            note_ =
                "note: the server no longer served a fresh 4000-byte request after the previous "
                "check, so it was restarted for this check";
        }
    }

  private:
    // Why no check can run with one set of server arguments.
    struct Unusable {
        std::string reason;         // the check's saw: line
        std::string first_blocked;  // the check that reported the failed probe in full
    };

    Server& server_;
    Context& ctx_;
    std::vector<std::string> file_args_;  // `-f PATH` for a lab that serves a file, else empty
    std::map<std::vector<std::string>, Unusable> unusable_;  // by the server's arguments
    std::string reason_;                                     // why the last prepare() failed
    bool restart_ = false;                                   // restart before the next check
    bool ended_by_check_ = false;  // the last check ended the server on purpose
    bool start_failed_ = false;    // the last start (in another mode) failed
    bool probed_ = false;          // the running server answered the health probe
    std::string note_;             // why the server was restarted before this check
    bool told_restart_ = false;    // a restart note was already given
};

// A lab program (LabKind::program): nothing runs between the checks; each
// check runs the program itself (ProgramRun) as often as it needs. The
// Server only carries the path; whatever a check leaves behind is killed
// after it, so nothing of the program outlives the check (nor the grader).
std::vector<CheckResult> run_program_checks(
    const LabInfo& lab, const std::vector<const CheckInfo*>& selection,
    const std::string& program_path, bool verbose,
    const std::function<void(const CheckResult&)>& on_result) {
    Server program(program_path);
    Context ctx(program, lab, ReplyFormat(), Readiness{}, verbose);
    // Every run of the program under a tracer (ProgramRun::trace_every_run):
    // a program that finds out when it is watched is watched in every run.
    // Not where strace is missing or may not trace (a container without
    // ptrace): a shell started under it must exit with status 0.
    ProgramRun::trace_every_run(find_strace());
    {
        ProgramRun probe("/bin/sh", {"-c", "exit 0"});
        const auto status = probe.wait(Deadline(5s));
        if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
            ProgramRun::trace_every_run("");
            ctx.log("strace cannot run programs here: the program's runs are not traced");
        }
    }
    std::vector<CheckResult> results;
    for (const CheckInfo* check : selection) {
        CheckResult r{.id = std::string(check->id),
                      .max_points = check_points(lab, *check),
                      .hint = std::string(check_hint(lab, *check))};
        const CheckLockGuard locks(check->id);  // as in run_checks()
        const auto begin = Deadline::Clock::now();
        if (begin_check(r)) {
            ctx.log("check {}", check->id);
            run_one(*check, ctx, r);
            end_check(r);
            kill_all_descendants(100ms);
        }
        finish_result(r, begin, ctx, results, on_result);
    }
    return results;
}

}  // namespace

void set_whole_run_deadline(std::chrono::milliseconds timeout) {
    g_run_seconds = scaled_seconds(timeout);
    g_run_end = Deadline::Clock::now() + scaled(timeout);
}

std::vector<CheckResult> run_checks(const LabInfo& lab,
                                    const std::vector<const CheckInfo*>& selection,
                                    const std::string& server_path, bool verbose,
                                    const std::function<void(const CheckResult&)>& on_result) {
    if (lab.kind == LabKind::program) {
        return run_program_checks(lab, selection, server_path, verbose, on_result);
    }
    // A lab that serves a file gets a fresh random one, removed at the end;
    // every reply must then cycle through its bytes.
    std::optional<ServedFile> file;
    std::vector<std::string> file_args;
    ReplyFormat reply;
    if (lab.reply == Reply::served_file) {
        file.emplace();
        file_args = {"-f", file->path()};
        reply = ReplyFormat::cycling(file->bytes());
    } else if (lab.reply == Reply::header_line) {
        reply = reply.with_header_line();
    }
    Server server(server_path);
    const Readiness first =
        server.start(start_timeout, with_file(file_args, server_args(lab, first_check_id(lab))));
    Context ctx(server, lab, reply, first, verbose, file_args);
    ctx.log("started `{}` as pid {} ({:.2f} s{})", server.command_line(), server.pid(),
            first.seconds,
            first.port_retries > 0
                ? fmt::format(", after {} port(s) taken by another process", first.port_retries)
                : "");
    Run run(server, ctx, first, file_args);

    std::vector<CheckResult> results;
    for (const CheckInfo* check : selection) {
        CheckResult r{.id = std::string(check->id),
                      .max_points = check_points(lab, *check),
                      .hint = std::string(check_hint(lab, *check))};
        // The server is (re)started for the check and probed before the
        // check's locks are taken, and looked at again after they are let
        // go: a server that cannot start or does not answer keeps no other
        // grader's heavy check waiting for it.
        const bool opening = check->lifecycle == Lifecycle::first;
        const bool ready = !run_over() && (opening || run.prepare(*check));
        bool ran = false;
        auto begin = Deadline::Clock::now();
        {
            // Under a lock directory (csd-batch, the test suite) a heavy
            // check waits here, before its clock starts, until no other
            // grader runs one that shares a lock (check_locks.hpp).
            std::optional<CheckLockGuard> locks;
            if (ready) locks.emplace(check->id);
            begin = Deadline::Clock::now();
            if (!begin_check(r)) {
                // The whole-run deadline passed: not run, 0 points.
            } else if (!ready) {
                r.saw = run.unusable();
                const std::string flags = mode_flags(lab, check->id);
                r.hint = flags.empty() ? ""
                                       : fmt::format(
                                             "make your server work with `{}` first (the "
                                             "handout says what that mode does)",
                                             flags);
                end_check(r);
            } else {
                if (!opening) ctx.log("check {}", check->id);
                run_one(*check, ctx, r);
                end_check(r);
                ran = !opening;
            }
        }
        if (ran) run.after(r, check->lifecycle == Lifecycle::ends_server);
        finish_result(r, begin, ctx, results, on_result);
    }
    server.stop();
    return results;
}

}  // namespace csd::grade
