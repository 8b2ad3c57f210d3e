#include "runner.hpp"

#include <fmt/format.h>

#include "check.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "scoring.hpp"

namespace csd::grade {
namespace {

using namespace std::chrono_literals;

constexpr auto start_timeout = 5s;

// Runs one check; fills passed/saw/hint of @p r.
void run_one(const CheckInfo& check, Context& ctx, CheckResult& r) {
    try {
        check.run(ctx);
        r.passed = true;
    } catch (const CheckFailed& e) {
        r.saw = e.what();
        if (!e.hint().empty()) r.hint = e.hint();
    } catch (const std::exception& e) {
        r.saw = fmt::format("the check could not run: {}", e.what());
    }
}

// True when the server still serves a fresh 4000-byte request.
bool serves(Context& ctx) {
    try {
        fetch(ctx.port(), 4000, Deadline(2s), "health probe");
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

// The state of one grading run between checks. Main thread only.
class Run {
  public:
    Run(Server& server, Context& ctx, const Readiness& first) : server_(server), ctx_(ctx) {
        if (!first.accepting) unusable_ = "not run: the server did not start (see check start)";
    }

    // Makes sure a usable server runs before a check (not for start):
    // restarts it when it died or stopped serving. False when none can run.
    bool prepare() {
        if (!unusable_.empty()) return false;
        if (!server_.running()) {
            note_ = fmt::format("note: the server {} before this check and was restarted",
                                describe_wait_status(server_.status().value_or(-1)));
            restart_ = true;
        }
        if (restart_) {
            ctx_.log("restarting the server");
            restart_ = false;
            const Readiness again = server_.start(start_timeout);
            if (!again.accepting) {
                unusable_ = "not run: the server could not be restarted: " + again.problem;
                return false;
            }
        }
        return true;
    }

    // Why no check can run (after prepare() returned false).
    [[nodiscard]] const std::string& unusable() const { return unusable_; }

    // After a check of @p r that may leave the server running: explains a
    // failure (death, earlier restart) and decides whether to restart.
    void after(CheckResult& r, bool ends_server) {
        if (!r.passed && !ends_server) {
            // A dying process closes its sockets a moment before it can be reaped.
            (void)wait_child(server_.pid(), Deadline(100ms));
            const std::string death = server_.running() ? "" : server_.death_report();
            if (!death.empty() && r.saw.find(death) == std::string::npos) {
                r.saw += "\nmeanwhile " + death;
            }
        }
        // Said once: a server that stops serving after every check would
        // repeat it under every later failure.
        if (!r.passed && !note_.empty() && !told_restart_) {
            r.saw += "\n" + note_;
            told_restart_ = true;
        }
        note_.clear();
        if (!r.passed && !ends_server && server_.running() && !serves(ctx_)) {
            restart_ = true;
            note_ =
                "note: the server no longer served a fresh 4000-byte request after the previous "
                "check, so it was restarted for this check";
        }
    }

  private:
    Server& server_;
    Context& ctx_;
    std::string unusable_;  // not empty: no server can run any more
    bool restart_ = false;  // restart before the next check
    std::string note_;      // why the server was restarted before this check
    bool told_restart_ = false;  // a restart note was already given
};

}  // namespace

std::vector<CheckResult> run_checks(const LabInfo& lab,
                                    const std::vector<const CheckInfo*>& selection,
                                    const std::string& server_path, bool verbose,
                                    const std::function<void(const CheckResult&)>& on_result) {
    Server server(server_path);
    const Readiness first = server.start(start_timeout);
    Context ctx(server, lab, first, verbose);
    ctx.log("started {} as pid {} on port {} ({:.2f} s)", server_path, server.pid(), server.port(),
            first.seconds);
    Run run(server, ctx, first);

    std::vector<CheckResult> results;
    for (const CheckInfo* check : selection) {
        CheckResult r{.id = std::string(check->id),
                      .max_points = check_points(lab, *check),
                      .hint = std::string(check_hint(lab, *check))};
        const auto begin = Deadline::Clock::now();
        if (check->id == "start") {
            run_one(*check, ctx, r);
        } else if (!run.prepare()) {
            r.saw = run.unusable();
            r.hint.clear();
        } else {
            ctx.log("check {}", check->id);
            run_one(*check, ctx, r);
            run.after(r, check->id == "sigterm");
        }
        if (r.passed) {
            r.points = r.max_points;
            r.hint.clear();
        }
        r.seconds = seconds_since(begin);
        ctx.log("{} took {:.2f} s", check->id, r.seconds);
        results.push_back(r);
        on_result(r);
    }
    server.stop();
    return results;
}

}  // namespace csd::grade
