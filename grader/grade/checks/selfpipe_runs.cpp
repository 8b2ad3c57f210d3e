// What the selfpipe lab's checks share: the lines a run of the program
// must print, and its answer to SIGUSR1 (docs/contract.md section 6,
// selfpipe).
#include "selfpipe_runs.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>

#include "failure.hpp"
#include "process.hpp"
#include "timing.hpp"

namespace csd::grade::selfpipe {

using namespace std::chrono_literals;

std::string handler_problem(std::string_view trace) {
    constexpr auto none = std::string_view::npos;
    const auto delivered = trace.find("--- SIGUSR1 ");
    if (delivered == none) return "";
    const std::string_view after = trace.substr(delivered);
    const auto returned = after.find("rt_sigreturn(");
    const auto answered = after.find("\"got SIGUSR1");
    auto exited = std::min(after.find("exit_group("), after.find("exit("));
    if (answered != none && (returned == none || answered < returned)) {
        return "its handler wrote \"got SIGUSR1\" itself (strace shows the write before the "
               "handler returned with rt_sigreturn)";
    }
    if (exited != none && (returned == none || exited < returned)) {
        return "its handler ended the program (strace shows exit before the handler returned "
               "with rt_sigreturn)";
    }
    return "";
}

double give_up_ms() {
    return scaled_seconds(give_up_time) * 1000;
}

std::string who(const ProgramRun& run, std::string_view run_name) {
    return fmt::format("`{}`{}", run.command_line(),
                       run_name.empty() ? "" : fmt::format(" ({})", run_name));
}

void expect_line(ProgramRun& run, std::string_view expected, Deadline deadline,
                 std::string_view run_name) {
    const LineResult got = run.read_line(deadline);
    if (got.line && *got.line == expected) return;
    const std::string saw = got.line  ? fmt::format("printed \"{}\"", *got.line)
                            : got.eof ? "closed its stdout: it " + run.describe()
                                      : "printed nothing more in time";
    fail(fmt::format("{} should print \"{}\" next, but {}; its stdout so far:\n{}",
                     who(run, run_name), expected, saw, run.output()));
}

void expect_ready(ProgramRun& run, std::string_view run_name) {
    expect_line(run, "ready", Deadline(2s), run_name);
}

double expect_answer(ProgramRun& run, Deadline::Clock::time_point sent, Deadline deadline,
                     std::string_view run_name, std::string_view when_sent, double allowed_ms) {
    const auto status = run.wait(deadline);
    const double took_ms = seconds_since(sent) * 1000;
    for (;;) {
        const LineResult got = run.read_line(Deadline(0ms));
        if (got.line && got.line->starts_with("line: ")) continue;
        if (got.line && *got.line == "got SIGUSR1" && status && *status == 0) {
            if (const auto more = run.read_line(Deadline(0ms)); more.line) {
                fail(fmt::format("{} printed \"{}\" after \"got SIGUSR1\"", who(run, run_name),
                                 *more.line));
            }
            return took_ms;
        }
        std::string saw;
        if (!status) {
            saw = fmt::format("had not exited {:.0f} ms after SIGUSR1{}", allowed_ms,
                              got.line ? fmt::format(" (it printed \"{}\")", *got.line) : "");
        } else if (got.line && *got.line != "got SIGUSR1") {
            saw = fmt::format("printed \"{}\" instead of \"got SIGUSR1\"", *got.line);
        } else if (!got.line) {
            saw = fmt::format("{} without printing \"got SIGUSR1\"", describe_wait_status(*status));
        } else {
            saw = fmt::format("printed \"got SIGUSR1\" but {}", run.describe());
        }
        fail(fmt::format("SIGUSR1 sent {}: {} {}; its stdout:\n{}", when_sent, who(run, run_name),
                         saw, run.output()));
    }
}

}  // namespace csd::grade::selfpipe
