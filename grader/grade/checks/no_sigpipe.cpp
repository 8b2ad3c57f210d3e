// no-sigpipe (sigpipe lab, docs/contract.md section 6, sigpipe): writing
// to the connection the grader's own server reset does not kill the
// program with SIGPIPE; it reports that write and exits with status 0.
// Then each -m, seen from outside: -m ignore has SIGPIPE ignored while it
// waits for the answer (SigIgn of /proc/PID/status) and, under strace, at
// its failed write (sent without MSG_NOSIGNAL), -m nosignal does not
// and survives all the same (MSG_NOSIGNAL), and -m none dies of SIGPIPE at
// its second write, even when its parent left SIGPIPE ignored. Then runs
// under strace: the second write is made (default mode); with -m nosignal
// every send on the socket has MSG_NOSIGNAL and SIGPIPE's disposition and
// mask are left alone; with -m none the SIGPIPE that kills is the kernel's,
// raised by the failed write. A program that looks for its tracer fails.
#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks.hpp"
#include "sandbox.hpp"
#include "server.hpp"
#include "sigpipe_runs.hpp"
#include "strace_text.hpp"
#include "text_lines.hpp"

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
    // A parent that ignores SIGPIPE (a shell's `trap '' PIPE`, a server that
    // starts it): the disposition survives exec, so -m none must set it.
    const SigpipeRun r = run_once(ctx.program(), Peer::reset, {"-m", "none"}, true);
    if (const std::string problem = mode_problem("none", r); !problem.empty()) {
        fail(fmt::format("-m none, started with SIGPIPE ignored by its parent (SIG_IGN survives "
                         "exec): the server reset the connection after the line of `{}`: it {}; "
                         "its stdout: {}",
                         r.command, problem, shown(r)),
             "with -m none set SIGPIPE's default action yourself (sigaction with SIG_DFL): "
             "the disposition the parent left, ignored or not, survives exec");
    }
}

// The output calls on the program's socket in @p calls, in order: those on
// the descriptor its connect() was called on (a program may write a log
// file before it), or, when strace saw no connect, on the descriptor of its
// first output call above 2.
std::vector<const StraceCall*> socket_writes(const std::vector<StraceCall>& calls) {
    int socket = -1;
    for (const auto& c : calls) {
        if (c.name == "connect" && c.fd() > 2) {
            socket = c.fd();
            break;
        }
    }
    std::vector<const StraceCall*> out;
    for (const auto& c : calls) {
        if (!is_output_call(c.name) || c.fd() <= 2) continue;
        if (socket < 0) socket = c.fd();
        if (c.fd() == socket) out.push_back(&c);
    }
    return out;
}

// True when the output call @p c carries the line `hello\n` (or at least
// its start: one writev piece may hold the rest), as strace shows its
// buffer: the failed second write is the line sent again, not an empty
// write made to get EPIPE.
bool carries_line(const StraceCall& c) {
    return c.args.find("\"hello") != std::string::npos;
}

// How @p c, an output call, appears in a message: "sendto(3, ..., 0) = -1 EPIPE".
std::string call_text(const StraceCall& c) {
    std::string args = c.args;
    if (args.size() > 60) args = args.substr(0, 57) + "...";
    return fmt::format("{}({}) = {}", c.name, args, c.result);
}

// The output calls in @p calls, one per line, for messages ("none" when none).
std::string output_calls_text(const std::vector<StraceCall>& calls) {
    std::string text;
    for (const auto& c : calls) {
        if (is_output_call(c.name)) text += "\n  " + call_text(c);
    }
    return text.empty() ? "none" : text;
}

// The flags argument of send-family call @p c ("MSG_NOSIGNAL", "0"), ""
// when it has none (write, writev) or strace did not show it.
std::string_view send_flags(const StraceCall& c) {
    const auto args = c.arguments();
    const std::size_t at = c.name == "sendmsg" ? 2 : c.name == "sendto" || c.name == "send" ? 3 : 0;
    return at != 0 && args.size() > at ? args[at] : std::string_view{};
}

// True when @p flags, strace's text of send flags ("MSG_DONTWAIT|MSG_NOSIGNAL"), has MSG_NOSIGNAL.
bool has_nosignal(std::string_view flags) {
    for (std::size_t at = 0; at <= flags.size();) {
        const std::size_t bar = std::min(flags.find('|', at), flags.size());
        if (flags.substr(at, bar - at) == "MSG_NOSIGNAL") return true;
        at = bar + 1;
    }
    return false;
}

// True when strace's text of a signal set ("[HUP PIPE]") names SIGPIPE.
// "~[...]", every signal but those, is left out: glibc blocks every signal
// for a moment around a thread's start and end.
bool names_sigpipe(std::string_view set) {
    if (!set.starts_with('[')) return false;
    for (std::size_t at = 1; at < set.size();) {
        const std::size_t end = std::min(set.find_first_of(" ]", at), set.size());
        const std::string_view name = set.substr(at, end - at);
        if (name == "PIPE" || name == "SIGPIPE" || name == "13") return true;
        at = end + 1;
    }
    return false;
}

// True when @p c, with its arguments @p args, sets a new action for
// SIGPIPE (rt_sigaction with one).
bool sets_sigpipe_action(const StraceCall& c, const std::vector<std::string_view>& args) {
    return c.name == "rt_sigaction" && args.size() >= 2 && args[0] == "SIGPIPE" &&
           args[1] != "NULL";
}

// True when @p c, with its arguments @p args, blocks SIGPIPE
// (rt_sigprocmask SIG_BLOCK or SIG_SETMASK with a set naming it).
bool blocks_sigpipe(const StraceCall& c, const std::vector<std::string_view>& args) {
    return c.name == "rt_sigprocmask" && args.size() >= 2 &&
           (args[0] == "SIG_BLOCK" || args[0] == "SIG_SETMASK") && names_sigpipe(args[1]);
}

// What in @p calls changes SIGPIPE's disposition (rt_sigaction with a new
// action) or blocks it (rt_sigprocmask SIG_BLOCK or SIG_SETMASK naming it):
// the call as strace showed it, "" when nothing does.
std::string disposition_change(const std::vector<StraceCall>& calls) {
    for (const auto& c : calls) {
        const auto args = c.arguments();
        if (sets_sigpipe_action(c, args) || blocks_sigpipe(c, args)) {
            return fmt::format("{}({}, {})", c.name, args[0], args[1]);
        }
    }
    return {};
}

// A call in @p calls by which the program sends SIGPIPE itself (kill,
// tgkill, raise()...), as strace showed it; "" when there is none.
std::string self_sent_sigpipe(const std::vector<StraceCall>& calls) {
    static constexpr std::string_view senders[] = {
        "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"};
    for (const auto& c : calls) {
        if (std::find(std::begin(senders), std::end(senders), c.name) == std::end(senders)) {
            continue;
        }
        for (const auto arg : c.arguments()) {
            if (arg == "SIGPIPE") return fmt::format("{}({}) = {}", c.name, c.args, c.result);
        }
    }
    return {};
}

// True when, in @p text (strace -f), a SIGPIPE is delivered to a thread
// whose traced call just before it is one that failed with EPIPE: the
// kernel's signal, raised by that write.
bool sigpipe_follows_epipe(std::string_view text) {
    std::map<std::string, std::string_view> last;  // the last call line per pid prefix
    for (const std::string_view line : lines_of(text)) {
        std::size_t digits = 0;
        while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
        const std::string pid(line.substr(0, digits));
        std::string_view rest = line.substr(digits);
        while (rest.starts_with(' ')) rest.remove_prefix(1);
        if (rest.starts_with("--- SIGPIPE ")) {
            const auto it = last.find(pid);
            if (it != last.end() && it->second.find("= -1 EPIPE") != std::string_view::npos) {
                return true;
            }
        } else if (!rest.starts_with("---") && !rest.starts_with("+++")) {
            last[pid] = rest;
        }
    }
    return false;
}

// A run under strace of `-m @p mode` against a reset (no run when the
// program is a sanitizer build or strace is missing): its text, after
// require_no_tracer_probe().
std::optional<std::string> traced_mode_run(Context& ctx, std::string_view mode) {
    if (built_with_sanitizer(ctx.program())) {
        // ASan's runtime aborts under ptrace (LeakSanitizer).
        ctx.log("-m {} under strace not checked: a sanitizer build", mode);
        return std::nullopt;
    }
    std::string why_not;
    auto text = traced_reset_run(ctx.program(), {"-m", std::string(mode)}, why_not);
    if (!text) {
        ctx.log("-m {} under strace not checked: {}", mode, why_not);
        return std::nullopt;
    }
    require_no_tracer_probe(*text, 0, "the program");
    return text;
}

// What protects the failed write @p write of a -m ignore run (@p calls):
// "" when it is SIGPIPE's disposition, SIG_IGN (the last rt_sigaction on
// SIGPIPE before it sets SIG_IGN, no signal mask blocks SIGPIPE before it,
// and the write has no MSG_NOSIGNAL); else what does instead.
std::string ignore_problem(const std::vector<StraceCall>& calls, const StraceCall& write) {
    std::string last_action;  // the last rt_sigaction(SIGPIPE, new) before the write
    for (const auto& c : calls) {
        if (&c == &write) break;
        const auto args = c.arguments();
        if (sets_sigpipe_action(c, args)) {
            last_action = std::string(args[1]);
        } else if (blocks_sigpipe(c, args)) {
            return fmt::format("SIGPIPE was blocked before it: {}({}, {})", c.name, args[0],
                               args[1]);
        }
    }
    if (has_nosignal(send_flags(write))) {
        return fmt::format(
            "it was sent with MSG_NOSIGNAL ({}): the flag protected it, not the "
            "disposition",
            call_text(write));
    }
    if (!last_action.starts_with("{sa_handler=SIG_IGN")) {
        return last_action.empty()
                   ? std::string("the program never set SIGPIPE's action (rt_sigaction)")
                   : fmt::format("SIGPIPE's action set last before it was {}", last_action);
    }
    return {};
}

// One run of -m ignore under strace, against a reset: the program's socket
// gets two output calls, the first line and the second write (which
// fails). A program that prints `write: EPIPE` after the failed read
// without making the write shows one. The failed write is protected by the
// disposition, SIG_IGN, as -m ignore says: not by MSG_NOSIGNAL after the
// disposition was set back, nor by a signal mask.
void require_second_write(Context& ctx) {
    const auto text = traced_mode_run(ctx, "ignore");
    if (!text) return;
    const auto calls = parse_strace(*text);
    const auto writes = socket_writes(calls);
    if (writes.size() < 2 || writes[1]->error != "EPIPE") {
        fail(fmt::format("a run under strace, the server resetting after its line: strace saw no "
                         "second output call on the socket that failed with EPIPE (the "
                         "program's output calls: {}): it printed its write line without making "
                         "the write",
                         output_calls_text(calls)),
             "after the read, really write your line again, whatever the read said: the failed "
             "write (EPIPE) is what the lab is about, and the line reports what it returned");
    }
    if (!carries_line(*writes[1])) {
        fail(fmt::format("a run under strace, the server resetting after its line: the second "
                         "output call on the socket failed with EPIPE, but it was not the line "
                         "`hello\\n` sent again: {}",
                         call_text(*writes[1])),
             "after the read, send the same line `hello\\n` again (docs/contract.md, section 6): "
             "the failed write is that line, not an empty write made to get EPIPE");
    }
    if (const std::string problem = ignore_problem(calls, *writes[1]); !problem.empty()) {
        fail(fmt::format("-m ignore, a run under strace, the server resetting after its line: the "
                         "second write failed with EPIPE, but {}",
                         problem),
             "with -m ignore set SIGPIPE's action to SIG_IGN before the writes and leave it so: "
             "that disposition is what protects the failed write (no MSG_NOSIGNAL, no mask, "
             "no handler), which is what the mode shows");
    }
    ctx.log("under strace: the second write to fd {} failed with EPIPE, SIGPIPE ignored",
            writes[1]->fd());
}

// -m nosignal under strace, against a reset: every output call on the
// socket is a send with MSG_NOSIGNAL, the second fails with EPIPE, no
// SIGPIPE is delivered, and SIGPIPE's disposition and mask are left alone.
void require_nosignal_sends(Context& ctx) {
    const auto text = traced_mode_run(ctx, "nosignal");
    if (!text) return;
    const auto calls = parse_strace(*text);
    const std::string hint =
        "with -m nosignal leave SIGPIPE alone (no sigaction, no signal mask) and give "
        "MSG_NOSIGNAL to every send on the socket (send, sendto or sendmsg: write() has no "
        "flags); the second send then fails with EPIPE and no signal is raised";
    const auto problem = [&](const std::string& what) {
        fail(fmt::format("-m nosignal, a run under strace, the server resetting after its line: "
                         "{}",
                         what),
             hint);
    };
    if (const std::string change = disposition_change(calls); !change.empty()) {
        problem(
            fmt::format("the program changed SIGPIPE's disposition or mask: {} (-m nosignal "
                        "leaves it alone; the flag of each send is the protection)",
                        change));
    }
    const auto writes = socket_writes(calls);
    for (const StraceCall* w : writes) {
        if (!has_nosignal(send_flags(*w))) {
            problem(fmt::format("an output call on the socket without MSG_NOSIGNAL: {}",
                                call_text(*w)));
        }
    }
    if (writes.size() < 2 || writes[1]->error != "EPIPE") {
        problem(
            fmt::format("strace saw no second send on the socket that failed with EPIPE (the "
                        "program's output calls: {})",
                        output_calls_text(calls)));
    }
    if (!carries_line(*writes[1])) {
        problem(
            fmt::format("the second send, which failed with EPIPE, was not the line "
                        "`hello\\n` sent again: {}",
                        call_text(*writes[1])));
    }
    if (text->find("--- SIGPIPE ") != std::string::npos) {
        problem("SIGPIPE was delivered to the program: something raised it");
    }
    ctx.log("-m nosignal under strace: {} sends with MSG_NOSIGNAL, the second failed with EPIPE",
            writes.size());
}

// -m none under strace, against a reset: the second output call on the
// socket fails with EPIPE and the SIGPIPE that kills the program is the
// kernel's, raised by that call, not one it sent itself.
void require_none_killed_by_write(Context& ctx) {
    const auto text = traced_mode_run(ctx, "none");
    if (!text) return;
    const auto calls = parse_strace(*text);
    const auto problem = [&](const std::string& what) {
        fail(fmt::format("-m none, a run under strace, the server resetting after its line: {}",
                         what),
             "with -m none set SIGPIPE's default action (SIG_DFL) and make the second write "
             "without MSG_NOSIGNAL: the kernel raises SIGPIPE in that write, and that is what "
             "kills the program, not a kill() or raise() of its own");
    };
    if (const std::string sent = self_sent_sigpipe(calls); !sent.empty()) {
        problem(fmt::format("the program sent SIGPIPE itself: {}", sent));
    }
    const auto writes = socket_writes(calls);
    if (writes.size() < 2 || writes[1]->error != "EPIPE") {
        problem(
            fmt::format("strace saw no second output call on the socket that failed with "
                        "EPIPE (the program's output calls: {})",
                        output_calls_text(calls)));
    }
    if (!carries_line(*writes[1])) {
        problem(
            fmt::format("the second output call, which failed with EPIPE, was not the line "
                        "`hello\\n` sent again: {}",
                        call_text(*writes[1])));
    }
    if (!sigpipe_follows_epipe(*text) ||
        text->find("+++ killed by SIGPIPE +++") == std::string::npos) {
        problem(
            fmt::format("the program was not killed by a SIGPIPE raised by its failed "
                        "write (its last lines: {})",
                        tail_lines(*text, 4)));
    }
    ctx.log("-m none under strace: killed by the SIGPIPE of its second write");
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
    require_nosignal_sends(ctx);
    require_none_killed_by_write(ctx);
}

}  // namespace

CSD_CHECK(no_sigpipe) {
    return {"no-sigpipe", 10, check_no_sigpipe,
            "20 runs: writing after the reset does not kill the program (SIGPIPE); it exits with "
            "status 0; then 2 runs of each -m: ignore has SIGPIPE ignored (SigIgn), nosignal "
            "does not and survives, none is killed by SIGPIPE at its second write (also when "
            "its parent ignores SIGPIPE); then under strace: the second write is made, under "
            "ignore with SIGPIPE still ignored and no MSG_NOSIGNAL, "
            "nosignal sends with MSG_NOSIGNAL and leaves SIGPIPE's disposition and mask alone, "
            "none is killed by the SIGPIPE its failed write raises",
            "a write to a connection that was reset raises SIGPIPE, whose default action kills the "
            "process: ignore it (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and the "
            "write fails with EPIPE instead"};
}

}  // namespace csd::grade
