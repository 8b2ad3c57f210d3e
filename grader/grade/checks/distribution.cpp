// distribution (labs prefork and fdpass): after SIGTERM the server prints
// one line per worker slot of its pool of -n processes (docs/contract.md,
// "Distribution report"), and the lines add up to the connections the
// grader made.
#include <fmt/format.h>
#include <signal.h>

#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace worker_pool;

namespace {

// distribution: the per-worker lines printed at shutdown add up.
void check_distribution(Context& ctx) {
    const int n = pool_size(ctx);
    // A fresh server, so the report counts only what this check asks.
    const Readiness ready = ctx.server().start(5s, ctx.server().args());
    if (!ready.accepting) fail("restarting the server for this check: " + ready.problem);
    (void)pool_of(ctx, n, "after a fresh start");
    const int total = 20 * n;
    const Deadline overall(60s);
    for (int round = 0; round < 4; ++round) {
        std::vector<Connection> conns;
        for (int i = 0; i < total / 4; ++i) {
            conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
            conns.back().send_all(request_line(4000), overall.within(3s), "request");
        }
        expect_replies_together(ctx.reply(), conns, std::vector<std::uint64_t>(conns.size(), 4000),
                                overall.within(10s), "a burst of clients", [] {});
    }
    const pid_t top = ctx.pid();
    ::kill(top, SIGTERM);
    const auto status = wait_child(top, Deadline(2s));
    if (!status) fail(fmt::format("the server (pid {}) still ran 2 s after SIGTERM", top));
    reap_children();

    static const std::regex line_format(
        R"(worker (\d+) pid (\d+) connections (\d+) useless-wakeups (\d+))");
    std::istringstream out(ctx.server().stdout_text());
    std::set<int> slots;
    std::uint64_t sum = 0;
    std::string line;
    std::string lines;
    while (std::getline(out, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, line_format)) continue;
        slots.insert(std::stoi(m[1].str()));
        sum += std::stoull(m[3].str());
        lines += (lines.empty() ? "" : "; ") + line;
    }
    const std::string hint =
        "at shutdown, after reaping the workers, print one line per worker slot: `worker I pid "
        "PID connections C useless-wakeups U` (docs/contract.md); count in memory shared by all "
        "the processes (mmap MAP_SHARED | MAP_ANONYMOUS before the first fork), with atomics";
    if (slots.size() != static_cast<std::size_t>(n) || *slots.begin() != 0 ||
        *slots.rbegin() != n - 1) {
        fail(fmt::format("after SIGTERM the server printed {} distribution lines for slots "
                         "{{{}}}; expected {} lines, slots 0 to {}",
                         slots.size(), fmt::join(slots, ", "), n, n - 1),
             hint);
    }
    // The grader's start made one more: the connection that saw it ready.
    if (sum != static_cast<std::uint64_t>(total) + 1) {
        fail(fmt::format("the grader made {} connections (its readiness probe at start, then "
                         "{} requests); the distribution lines add up to {} ({})",
                         total + 1, total, sum, lines.empty() ? "no line in the format" : lines),
             hint);
    }
    ctx.log("distribution: {}", lines);
}

}  // namespace

CSD_CHECK(distribution) {
    return {"distribution",
            10,
            check_distribution,
            "after SIGTERM, one distribution line per worker that add up to the connections made",
            "count each connection in memory shared by all the processes (mmap MAP_SHARED | "
            "MAP_ANONYMOUS before the first fork, std::atomic); after reaping the workers print "
            "one line per slot in the format of docs/contract.md",
            {},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
