// no-sigpipe (sigpipe lab, docs/contract.md section 6, sigpipe): writing
// to the connection the grader's own server reset does not kill the
// program with SIGPIPE; it reports that write and exits with status 0.
#include <sys/wait.h>

#include <algorithm>
#include <string>

#include "checks.hpp"
#include "sigpipe_runs.hpp"

namespace csd::grade {

using namespace sigpipe;

namespace {

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
}

}  // namespace

CSD_CHECK(no_sigpipe) {
    return {"no-sigpipe", 10, check_no_sigpipe,
            "20 runs: writing after the reset does not kill the program (SIGPIPE); it exits with "
            "status 0",
            "a write to a connection that was reset raises SIGPIPE, whose default action kills the "
            "process: ignore it (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and the "
            "write fails with EPIPE instead"};
}

}  // namespace csd::grade
