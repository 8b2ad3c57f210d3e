// epipe (sigpipe lab, docs/contract.md section 6, sigpipe): after the
// reset the program prints exactly `read: ECONNRESET` then `write: EPIPE`;
// in the runs where the grader's server answers or closes with a FIN
// instead, what its read and write really did, so lines printed as
// constants fail.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "checks.hpp"
#include "sigpipe_runs.hpp"

namespace csd::grade {

using namespace sigpipe;

namespace {

// epipe (sigpipe): exactly `read: ECONNRESET` then `write: EPIPE`.
void check_epipe(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        const std::vector<std::string> expected = expected_lines(r.peer);
        if (r.lines != expected) {
            return "should print exactly \"" + expected[0] + "\" then \"" + expected[1] +
                   "\" (it " + r.description + ")";
        }
        // The write line must report a write: after an answer, the
        // grader's server must have received the second hello\n.
        if (r.after_answer && *r.after_answer != 6) {
            return fmt::format(
                "printed \"{}\", but the grader's server received {} bytes after its answer "
                "(the second hello\\n is 6): the line was printed without the write",
                expected[1], *r.after_answer);
        }
        return {};
    });
}

}  // namespace

CSD_CHECK(epipe) {
    return {"epipe", 10, check_epipe,
            "20 runs: stdout is exactly `read: ECONNRESET` then `write: EPIPE` after a reset "
            "(`read: 3 bytes`, `write: 6 bytes` after an answer; `read: EOF`, `write: 6 bytes` "
            "after a FIN)",
            "after the read, write your line again: after a reset it fails with EPIPE; print what "
            "write() really did (\"write: EPIPE\", the errno's name, not strerror's text; or "
            "\"write: N bytes\"), flush, and return 0"};
}

}  // namespace csd::grade
