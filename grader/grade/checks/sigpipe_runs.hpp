#pragma once
/// @file sigpipe_runs.hpp
/// @brief What the sigpipe lab's checks (read-reset, no-sigpipe, epipe)
/// share: runs of the program against the grader's own server, which resets
/// the connection after the program's line (in some runs it answers, or
/// closes with a FIN instead), and what a correct program prints against
/// each (docs/contract.md section 6, sigpipe). Main thread only.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"

namespace csd::grade::sigpipe {

/// How many times each check runs the program.
constexpr int runs = 20;

/// What the grader's server does once it has read the program's line.
enum class Peer {
    reset,  ///< closes with SO_LINGER {on, 0}: an RST, no FIN
    reply,  ///< answers "hi\n" (3 bytes) and keeps the connection open
    fin,    ///< closes normally: a FIN
};

/// What one run of the program against the grader's server came to.
struct SigpipeRun {
    std::string command = {};             ///< PROGRAM -p PORT
    std::vector<std::string> lines = {};  ///< its stdout, line by line
    std::optional<int> status = {};       ///< its wait status (nullopt: still running, killed)
    std::string description = {};         ///< how it ended, with its stderr tail
    Peer peer = Peer::reset;              ///< what the grader's server did
    /// Whether SIGPIPE was ignored (SigIgn of /proc/PID/status) while the
    /// program waited for the server's answer, after its first write
    /// (nullopt: could not be read).
    std::optional<bool> sigpipe_ignored = {};
    /// When the grader's server answered (Peer::reply): the bytes it
    /// received after its answer, once the program had ended (its second
    /// `hello\n`, 6 bytes, when the program really wrote it).
    std::optional<std::size_t> after_answer = {};
};

/// The peer of run @p i (1-based): mostly resets, the lesson; every fourth
/// run answers, every fourth closes with a FIN.
Peer peer_of_run(int i);

/// What @p peer does, for messages.
std::string_view peer_text(Peer peer);

/// The two lines a correct program prints against @p peer.
std::vector<std::string> expected_lines(Peer peer);

/// One run: PROGRAM -p PORT [@p mode_args] against a fresh server that
/// behaves as @p peer. With @p parent_ignores_sigpipe the program starts
/// with SIGPIPE ignored, as a parent that ignores it leaves it (SIG_IGN
/// survives exec).
SigpipeRun run_once(const std::string& program, Peer peer,
                    const std::vector<std::string>& mode_args = {},
                    bool parent_ignores_sigpipe = false);

/// The calls traced_reset_run() traces, with tracer_probe_calls
/// (trace.hpp): connect (which descriptor is the socket), the output calls,
/// what changes SIGPIPE's disposition or mask, and what sends a signal.
inline constexpr const char* traced_calls =
    "connect,sendto,sendmsg,write,writev,rt_sigaction,rt_sigprocmask,kill,tkill,tgkill,"
    "rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal";

/// One run of PROGRAM -p PORT [@p mode_args] against a server that resets,
/// the program started under `strace -f` for traced_calls and
/// tracer_probe_calls, with a line
/// `--- SIGPIPE {...} ---` for each SIGPIPE delivered to it (strace sees
/// it even when ignored): strace's text, or nullopt with @p why_not set
/// when strace is missing. Its exit status is not judged (a sanitizer may
/// not run under ptrace).
std::optional<std::string> traced_reset_run(const std::string& program,
                                            const std::vector<std::string>& mode_args,
                                            std::string& why_not);

/// Its stdout, quoted line by line, for messages.
std::string shown(const SigpipeRun& r);

/// Runs the program `runs` times, against the peer of each run; @p judge
/// returns what was wrong ("" if nothing).
template <typename Judge>
void check_runs(Context& ctx, Judge&& judge) {
    for (int i = 1; i <= runs; ++i) {
        const SigpipeRun r = run_once(ctx.program(), peer_of_run(i));
        const std::string problem = judge(r);
        if (!problem.empty()) {
            fail(
                fmt::format("run {} of {}: the server {} after the line of `{}`: it {}; its "
                            "stdout: {}",
                            i, runs, peer_text(r.peer), r.command, problem, shown(r)));
        }
    }
}

}  // namespace csd::grade::sigpipe
