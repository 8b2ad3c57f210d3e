#include "runner.hpp"

#include <fmt/format.h>

#include "check.hpp"
#include "expect.hpp"
#include "process.hpp"

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

}  // namespace

std::vector<CheckResult> run_checks(const LabInfo& lab,
                                    const std::vector<const CheckInfo*>& selection,
                                    const std::string& server_path, bool verbose,
                                    const std::function<void(const CheckResult&)>& on_result) {
    Server server(server_path);
    Readiness first = server.start(start_timeout);
    Context ctx(server, lab, first, verbose);
    ctx.log("started {} as pid {} on port {} ({:.2f} s)", server_path, server.pid(),
            server.port(), first.seconds);

    std::vector<CheckResult> results;
    std::string unusable = first.accepting ? "" : "not run: the server did not start (see check start)";
    bool restart = false;
    std::string note;  // why the server was restarted before this check

    for (const CheckInfo* check : selection) {
        CheckResult r{.id = std::string(check->id), .max_points = check->points,
                      .hint = std::string(check->hint)};
        const auto begin = Deadline::Clock::now();
        const bool is_start = check->id == "start";
        const bool ends_server = check->id == "sigterm";
        if (!is_start && unusable.empty()) {
            if (!server.running()) {
                note = fmt::format("note: the server {} before this check and was restarted",
                                   describe_wait_status(server.status().value_or(-1)));
                restart = true;
            }
            if (restart) {
                ctx.log("restarting the server");
                const Readiness again = server.start(start_timeout);
                if (!again.accepting) unusable = "the server could not be restarted: " + again.problem;
                restart = false;
            }
        }
        if (!is_start && !unusable.empty()) {
            r.saw = unusable;
        } else {
            ctx.log("check {}", check->id);
            run_one(*check, ctx, r);
            if (r.passed && !is_start && !ends_server && !server.running()) {
                r.passed = false;
                r.saw = "the server died during this check: " + server.death_report();
            }
            if (!r.passed && !note.empty()) r.saw += "\n" + note;
            note.clear();
            if (!r.passed && !is_start && !ends_server && server.running() && !serves(ctx)) {
                restart = true;
                note = "note: the server no longer served a fresh 4000-byte request after the "
                       "previous check, so it was restarted for this check";
            }
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
