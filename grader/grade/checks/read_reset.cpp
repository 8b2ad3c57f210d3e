// read-reset (sigpipe lab, docs/contract.md section 6, sigpipe): the
// program talks to the grader's own server, which resets the connection
// after the program's line; the first thing the program prints is what its
// read got: `read: ECONNRESET` (or, in the runs where the server answers or
// closes with a FIN instead, what the read really returned).
#include <string>
#include <vector>

#include "checks.hpp"
#include "sigpipe_runs.hpp"

namespace csd::grade {

using namespace sigpipe;

namespace {

// read-reset (sigpipe): the program's read after the reset reports ECONNRESET first.
void check_read_reset(Context& ctx) {
    check_runs(ctx, [](const SigpipeRun& r) -> std::string {
        const std::string want = expected_lines(r.peer).front();
        if (r.lines.empty() || r.lines.front() != want) {
            return "should first print \"" + want + "\" (it " + r.description + ")";
        }
        return {};
    });
}

}  // namespace

CSD_CHECK(read_reset) {
    return {"read-reset", 10, check_read_reset,
            "20 runs against a server that resets the connection after the first line (in some "
            "runs it answers 3 bytes, or closes with a FIN): the first thing printed is what the "
            "read got, `read: ECONNRESET` (or `read: 3 bytes`, `read: EOF`)",
            "send your line, then read: the server answers with an RST, so read() fails with "
            "ECONNRESET; print what read() really returned (the errno's name, `EOF` for 0, "
            "`N bytes` otherwise) and flush"};
}

}  // namespace csd::grade
