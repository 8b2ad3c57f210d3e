// lines (selfpipe lab, docs/contract.md section 6, selfpipe): every line
// of stdin comes back as `line: TEXT`, also lines written in pieces or
// several at once, then `end of input` and exit status 0 at EOF.
#include <fmt/format.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "checks.hpp"
#include "program.hpp"
#include "selfpipe_runs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace selfpipe;

namespace {

// lines (selfpipe): every stdin line is echoed, then `end of input` and status 0.
void check_lines(Context& ctx) {
    ProgramRun run(ctx.program(), {});
    expect_ready(run, "");
    // Whole lines, a line in two writes, three lines in one write, an empty line.
    const std::vector<std::pair<std::string, std::vector<std::string>>> steps = {
        {"alpha\n", {"line: alpha"}},
        {"be", {}},
        {"ta\n", {"line: beta"}},
        {"one\ntwo\nthree\n", {"line: one", "line: two", "line: three"}},
        {"\n", {"line: "}},
    };
    for (const auto& [data, expected] : steps) {
        if (!run.write_stdin(data, Deadline(2s))) {
            fail(fmt::format("{} did not read its stdin; it {}", who(run, ""), run.describe()));
        }
        if (expected.empty()) std::this_thread::sleep_for(scaled(20ms));
        for (const auto& e : expected) expect_line(run, e, Deadline(2s), "");
    }
    run.close_stdin();
    expect_line(run, "end of input", Deadline(2s), "");
    const auto status = run.wait(Deadline(2s));
    if (!status || *status != 0) {
        fail(fmt::format("after \"end of input\", {} should exit with status 0, but it {}",
                         who(run, ""), run.describe()));
    }
}

}  // namespace

CSD_CHECK(lines) {
    return {"lines", 10, check_lines,
            "every stdin line comes back as `line: TEXT` (also lines in pieces), then `end of "
            "input` and exit status 0 at EOF",
            "keep the bytes of an unfinished line until its \\n arrives; print and flush one line "
            "per line read (docs/contract.md section 6)"};
}

}  // namespace csd::grade
