// What the selfpipe lab's checks share: the lines a run of the program
// must print, and its answer to SIGUSR1 (docs/contract.md section 6,
// selfpipe).
#include "selfpipe_runs.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "failure.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "strace_text.hpp"
#include "text_lines.hpp"
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

std::string self_pipe_problem(std::string_view trace) {
    constexpr auto none = std::string_view::npos;
    const auto delivered = trace.find("--- SIGUSR1 ");
    if (delivered == none) return "";
    std::string_view in_handler = trace.substr(delivered);
    in_handler = in_handler.substr(0, in_handler.find("rt_sigreturn("));
    for (const StraceCall& c : parse_strace(std::string(in_handler))) {
        if ((c.name == "write" || c.name == "writev") && c.fd() > 2) return "";
    }
    return "its handler wrote nothing into the pipe (strace shows no write between the signal "
           "and the handler's rt_sigreturn): the byte must come from the handler itself, or a "
           "signal that lands between the flag check and select() is seen only at the next "
           "line";
}

std::string self_pipe_ends_problem(pid_t pid) {
    std::map<std::string, std::vector<int>> ends;  // "pipe:[N]" -> its descriptors here
    for (const auto& fd : procfs::open_fds(pid)) {
        if (fd.target.starts_with("pipe:[")) ends[fd.target].push_back(fd.fd);
    }
    for (const auto& [pipe, fds] : ends) {
        if (fds.size() < 2) continue;
        for (const int fd : fds) {
            const auto flags = procfs::fd_flags(pid, fd);
            if (!flags || (*flags & O_NONBLOCK) != 0) continue;
            return fmt::format(
                "its self-pipe ({}, descriptors {}) has a blocking end: fd {} (flags {:o} in "
                "/proc/{}/fdinfo/{}, no O_NONBLOCK): a handler that writes into a full pipe "
                "would block the program for good, and the loop's drain would wait once the "
                "pipe is empty",
                pipe, fmt::join(fds, " and "), fd, *flags, pid, fd);
        }
    }
    return {};
}

namespace {

// True when strace line @p line is a call of one of wait_calls.
bool is_wait_line(std::string_view line) {
    if (line.starts_with("[pid ")) line.remove_prefix(std::min(line.find("] ") + 2, line.size()));
    const auto paren = line.find('(');
    if (paren == std::string_view::npos || paren == 0) return false;
    const std::string_view name = line.substr(0, paren);
    for (std::string_view calls = wait_calls; !calls.empty();) {
        const auto comma = calls.find(',');
        if (calls.substr(0, comma) == name) return true;
        calls = comma == std::string_view::npos ? std::string_view() : calls.substr(comma + 1);
    }
    return false;
}

// True when strace line @p line is a wait (or its resumed half) that
// reported something ready: a count above 0. A wait that timed out (= 0)
// answered nothing, however it was called.
bool wait_reported(std::string_view line) {
    if (line.starts_with("[pid ")) line.remove_prefix(std::min(line.find("] ") + 2, line.size()));
    bool wait = is_wait_line(line);
    if (!wait && line.starts_with("<... ")) {
        const auto end = line.find(" resumed>");
        if (end != std::string_view::npos) {
            const std::string name(line.substr(5, end - 5));
            wait = is_wait_line(name + "(");
        }
    }
    if (!wait) return false;
    const auto eq = line.rfind(" = ");
    if (eq == std::string_view::npos) return false;  // unfinished: its resumed half says
    std::size_t i = eq + 3;
    long count = 0;
    bool digits = false;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
        count = count * 10 + (line[i] - '0');
        digits = true;
    }
    return digits && count > 0;
}

}  // namespace

std::string window_problem(std::string_view trace) {
    const auto lines = lines_of(trace);
    std::size_t answered = lines.size();
    std::optional<std::size_t> delivered;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!delivered && lines[i].find("--- SIGUSR1 ") != std::string_view::npos) delivered = i;
        if (lines[i].find("\"got SIGUSR1") != std::string_view::npos) {
            answered = i;
            break;
        }
    }
    if (answered == lines.size()) return "";  // no answer: the other checks say so
    if (!delivered) {
        // No handler ran (signalfd): the answer must come out of a wait
        // that reported the signal ready.
        for (std::size_t i = 0; i < answered; ++i) {
            if (wait_reported(lines[i])) return "";
        }
        return "it printed \"got SIGUSR1\" without a wait that reported it (no select, poll "
               "or epoll call since the window began returned a ready descriptor)";
    }
    if (*delivered > answered) return "";  // the handler's business: handler_problem()
    for (std::size_t i = *delivered + 1; i < answered; ++i) {
        if (wait_reported(lines[i])) return "";
    }
    // Or the wait the signal interrupted (pselect: the signal is let in there).
    for (std::size_t i = *delivered; i-- > 0;) {
        if (lines[i].empty() || lines[i].starts_with("---")) continue;
        if (is_wait_line(lines[i]) && lines[i].find("= ? ERESTART") != std::string_view::npos) {
            return "";
        }
        break;
    }
    return "SIGUSR1 arrived during the window, and the program printed \"got SIGUSR1\" "
           "without waiting again (no select, poll or epoll call between the signal and the "
           "answer that reported a ready descriptor, and none interrupted by it): it looked "
           "at its flag after the window, which only hides the race (a wait with a zero "
           "timeout, = 0, answers nothing)";
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
