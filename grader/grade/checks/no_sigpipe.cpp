// no-sigpipe (sigpipe lab, docs/contract.md section 6, sigpipe): writing
// to the connection the grader's own server reset does not kill the
// program with SIGPIPE; it reports that write and exits with status 0.
// Then each -m, seen from outside: -m ignore has SIGPIPE ignored while it
// waits for the answer (SigIgn of /proc/PID/status), -m nosignal does not
// and survives all the same (MSG_NOSIGNAL), and -m none dies of SIGPIPE at
// its second write, which proves that write is made.
#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "checks.hpp"
#include "sandbox.hpp"
#include "server.hpp"
#include "sigpipe_runs.hpp"
#include "strace_text.hpp"

namespace csd::grade {

using namespace sigpipe;

namespace {

/// Runs of each -m against a server that resets.
constexpr int runs_per_mode = 2;

// What is wrong with run @p r of `-m @p mode` against a reset, "" when nothing.
std::string mode_problem(std::string_view mode, const SigpipeRun& r) {
    if (!r.status) return "was still running 2 s later";
    const bool ignored = r.sigpipe_ignored.value_or(mode == "ignore");
    if (mode == "none") {
        if (WIFSIGNALED(*r.status) && WTERMSIG(*r.status) == SIGPIPE) return {};
        return r.description +
               " (with no protection its write after the reset must raise SIGPIPE and kill it: "
               "-m none sets SIGPIPE's default action, and the program still writes)";
    }
    if (mode == "ignore" && !ignored) {
        return "did not have SIGPIPE ignored while it waited for the answer (SigIgn in "
               "/proc/PID/status): -m ignore protects the process by SIGPIPE's disposition";
    }
    if (mode == "nosignal" && ignored) {
        return "had SIGPIPE ignored while it waited for the answer (SigIgn in /proc/PID/status): "
               "-m nosignal leaves the disposition alone and protects each send with its flag";
    }
    if (WIFSIGNALED(*r.status) || !WIFEXITED(*r.status) || WEXITSTATUS(*r.status) != 0) {
        return r.description + " (it should exit with status 0)";
    }
    // Its lines are the epipe check's business; here only that it wrote.
    if (std::none_of(r.lines.begin(), r.lines.end(),
                     [](const std::string& l) { return l.starts_with("write: "); })) {
        return "exited without its `write: ...` line";
    }
    if (r.after_answer && *r.after_answer != 6) {
        return fmt::format(
            "printed its write line, but the grader's server, which answered, "
            "received {} bytes after its answer (its second hello\\n is 6): no "
            "write was made",
            *r.after_answer);
    }
    return {};
}

// Each -m: the disposition it claims, and what happens at the second write.
void check_mode_runs(Context& ctx) {
    for (const std::string_view mode : {"ignore", "nosignal", "none"}) {
        for (int i = 1; i <= runs_per_mode; ++i) {
            // The last run of ignore and nosignal gets an answer instead: its
            // second write must then reach the grader's server.
            const Peer peer = i == runs_per_mode && mode != "none" ? Peer::reply : Peer::reset;
            const SigpipeRun r = run_once(ctx.program(), peer, {"-m", std::string(mode)});
            const std::string problem = mode_problem(mode, r);
            if (problem.empty()) continue;
            fail(fmt::format("-m {}, run {} of {}: the server {} after the line of `{}`: it {}; "
                             "its stdout: {}",
                             mode, i, runs_per_mode, peer_text(r.peer), r.command, problem,
                             shown(r)),
                 "write every -m of the handout: ignore (SIGPIPE's disposition, SIG_IGN), "
                 "nosignal (MSG_NOSIGNAL on each send, the disposition untouched), none "
                 "(SIG_DFL: the second write kills); and really make the second write, whatever "
                 "the read said");
        }
    }
    ctx.log("-m ignore, nosignal and none: {} runs each, as the handout says", runs_per_mode);
}

// One run under strace, against a reset: the program's socket gets two
// output calls, the first line and the second write (which fails). A
// program that prints `write: EPIPE` after the failed read without making
// the write shows one.
void require_second_write(Context& ctx) {
    if (built_with_sanitizer(ctx.program())) {
        // ASan's runtime aborts under ptrace (LeakSanitizer).
        ctx.log("the second write under strace not checked: a sanitizer build");
        return;
    }
    std::string why_not;
    const auto text = traced_reset_run(ctx.program(), why_not);
    if (!text) {
        ctx.log("the second write under strace not checked: {}", why_not);
        return;
    }
    std::map<int, std::vector<const StraceCall*>> by_fd;  // output calls per descriptor
    const auto calls = parse_strace(*text);
    for (const auto& c : calls) {
        if (c.fd() > 2) by_fd[c.fd()].push_back(&c);
    }
    for (const auto& [fd, list] : by_fd) {
        if (list.size() >= 2 && list[1]->error == "EPIPE") {
            ctx.log("under strace: the second write to fd {} failed with EPIPE", fd);
            return;
        }
    }
    fail(fmt::format("a run under strace, the server resetting after its line: strace saw no "
                     "second output call on the socket that failed with EPIPE (the program's "
                     "output calls: {}): it printed its write line without making the write",
                     tail_lines(*text, 6)),
         "after the read, really write your line again, whatever the read said: the failed "
         "write (EPIPE) is what the lab is about, and the line reports what it returned");
}

// no-sigpipe (sigpipe): writing after the reset does not kill it; it exits 0.
void check_no_sigpipe(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        if (!r.status) return "was still running 2 s later";
        if (WIFSIGNALED(*r.status) || !WIFEXITED(*r.status) || WEXITSTATUS(*r.status) != 0) {
            return r.description + " (it should exit with status 0)";
        }
        // Surviving means writing and living: a program that never makes
        // its second write has nothing to survive.
        const bool wrote = std::any_of(r.lines.begin(), r.lines.end(), [](const std::string& l) {
            return l.starts_with("write: ");
        });
        if (!wrote)
            return "exited with status 0 without its `write: ...` line: it never wrote "
                   "again after the read, so it had no SIGPIPE to survive";
        return {};
    });
    check_mode_runs(ctx);
    require_second_write(ctx);
}

}  // namespace

CSD_CHECK(no_sigpipe) {
    return {"no-sigpipe", 10, check_no_sigpipe,
            "20 runs: writing after the reset does not kill the program (SIGPIPE); it exits with "
            "status 0; then 2 runs of each -m: ignore has SIGPIPE ignored (SigIgn), nosignal "
            "does not and survives, none is killed by SIGPIPE at its second write",
            "a write to a connection that was reset raises SIGPIPE, whose default action kills the "
            "process: ignore it (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and the "
            "write fails with EPIPE instead"};
}

}  // namespace csd::grade
