// fd-leak: the top process's descriptor count returns to its idle value.
#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "checks.hpp"
#include "client_run.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The descriptors of @p pid once their number stopped changing (up to 1.5 s).
std::vector<procfs::FdInfo> settled_fds(pid_t pid) {
    const Deadline limit(1500ms);
    auto fds = procfs::open_fds(pid);
    int stable = 0;
    while (stable < 3 && !limit.expired()) {
        std::this_thread::sleep_for(scaled(50ms));
        auto again = procfs::open_fds(pid);
        stable = again.size() == fds.size() ? stable + 1 : 0;
        fds = std::move(again);
    }
    return fds;
}

// Descriptors of @p now that were not open (same number, same target) in @p before.
std::string extra_fds(const std::vector<procfs::FdInfo>& before,
                      const std::vector<procfs::FdInfo>& now) {
    std::string text;
    int shown = 0;
    int more = 0;
    for (const auto& fd : now) {
        const bool old = std::any_of(before.begin(), before.end(), [&](const procfs::FdInfo& b) {
            return b.fd == fd.fd && b.target == fd.target;
        });
        if (old) continue;
        if (shown < 12) {
            text += fmt::format("{}fd {} -> {}", shown ? ", " : "", fd.fd, fd.target);
            ++shown;
        } else {
            ++more;
        }
    }
    if (more > 0) text += fmt::format(" and {} more", more);
    return text;
}

// Short connections made by csd-client, 10 at a time: enough to see a leak
// of one descriptor per thousand connections.
constexpr int short_children = 10;
constexpr int short_per_child = 200;
constexpr int short_connections = short_children * short_per_child;

// One connection of the traffic mix: 8 in 10 normal, 1 malformed, 1 reset mid-reply.
void one_connection(Context& ctx, int i, Deadline overall) {
    const std::string what = fmt::format("connection {} of 100", i + 1);
    if (i % 10 == 3) {
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all("abc\n", overall.within(3s), what + " (malformed \"abc\\n\")");
        (void)wait_closed(conn, overall.within(1s));
    } else if (i % 10 == 7) {
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(64ULL << 20), overall.within(3s), what);
        expect_reply(conn, 64 * 1024, overall.within(5s), what + " (64 MiB, reset after 64 KiB)");
        conn.reset();
    } else {
        fetch(ctx.port(), 4000, overall.within(3s), what);
    }
}

}  // namespace

namespace {

// Fails unless the descriptor count of the server is back to @p baseline
// within 1 s; @p what says which connections ended.
void require_back_to(Context& ctx, const std::vector<procfs::FdInfo>& baseline,
                     const std::string& what) {
    const Deadline within(1s);
    std::vector<procfs::FdInfo> now;
    for (;;) {
        now = procfs::open_fds(ctx.pid());
        if (now.size() <= baseline.size()) return;
        if (within.expired()) break;
        std::this_thread::sleep_for(scaled(50ms));
    }
    ctx.require_running("after " + what);
    fail(
        fmt::format("the server (pid {}) had {} open descriptors when idle before, and {} "
                    "1 s after {} ended; new ones: {}",
                    ctx.pid(), baseline.size(), now.size(), what, extra_fds(baseline, now)));
}

}  // namespace

void check_fd_leak(Context& ctx) {
    const auto baseline = settled_fds(ctx.pid());
    ctx.log("fd baseline of pid {}: {}", ctx.pid(), baseline.size());
    const Deadline overall(60s);
    for (int i = 0; i < 100; ++i) one_connection(ctx, i, overall);
    require_back_to(ctx, baseline, "100 connections (80 normal, 10 malformed, 10 reset mid-reply)");
    // A slow leak (one descriptor per thousand connections) shows only after many.
    run_client(ctx,
               {"-c", std::to_string(short_children), "-t", std::to_string(short_per_child), "-b",
                "1", "--timeout", "5", "-q"},
               60s);
    require_back_to(ctx, baseline,
                    fmt::format("those and {} more short connections ({} at a time)",
                                short_connections, short_children));
}

}  // namespace csd::grade
