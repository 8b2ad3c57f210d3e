// fd-leak: the descriptor count of the server's whole process tree returns to its idle value.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "checks.hpp"
#include "client_run.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// One open descriptor of a process of the server's tree.
struct TreeFd {
    pid_t pid = 0;
    procfs::FdInfo fd;
};

// The open descriptors of @p top and of every process below it.
std::vector<TreeFd> tree_fds(pid_t top) {
    std::vector<TreeFd> out;
    for (const pid_t pid : procfs::process_tree(top)) {
        for (auto& fd : procfs::open_fds(pid)) out.push_back({pid, std::move(fd)});
    }
    return out;
}

// The descriptors of @p top's tree once their number stopped changing (up to 1.5 s).
std::vector<TreeFd> settled_fds(pid_t top) {
    const Deadline limit(1500ms);
    auto fds = tree_fds(top);
    int stable = 0;
    while (stable < 3 && !limit.expired()) {
        std::this_thread::sleep_for(scaled(50ms));
        auto again = tree_fds(top);
        stable = again.size() == fds.size() ? stable + 1 : 0;
        fds = std::move(again);
    }
    return fds;
}

// Descriptors of @p now that were not open (same process, number and target) in @p before.
std::string extra_fds(const std::vector<TreeFd>& before, const std::vector<TreeFd>& now,
                      pid_t top) {
    std::string text;
    int shown = 0;
    int more = 0;
    for (const auto& fd : now) {
        const bool old = std::any_of(before.begin(), before.end(), [&](const TreeFd& b) {
            return b.pid == fd.pid && b.fd.fd == fd.fd.fd && b.fd.target == fd.fd.target;
        });
        if (old) continue;
        if (shown < 12) {
            const std::string who = fd.pid == top ? "" : fmt::format("pid {} ", fd.pid);
            text += fmt::format("{}{}fd {} -> {}", shown ? ", " : "", who, fd.fd.fd, fd.fd.target);
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

// "the server (pid 5)" or "the server (pid 5) and its 3 other processes".
std::string whose(pid_t top, const std::vector<TreeFd>& fds) {
    std::vector<pid_t> pids;
    for (const auto& fd : fds) {
        if (fd.pid != top && std::find(pids.begin(), pids.end(), fd.pid) == pids.end()) {
            pids.push_back(fd.pid);
        }
    }
    if (pids.empty()) return fmt::format("the server (pid {})", top);
    return fmt::format("the server (pid {}) and its {} other process{}", top, pids.size(),
                       pids.size() == 1 ? "" : "es");
}

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
        const std::string label = what + " (64 MiB, reset after 64 KiB)";
        // Its first 64 KiB: after the header line of 64 MiB, when replies have one (cork).
        if (ctx.reply().header_line())
            expect_header_line(conn, 64ULL << 20, overall.within(5s), label);
        expect_reply(ctx.reply().body_only(), conn, 64 * 1024, overall.within(5s), label);
        conn.reset();
    } else {
        fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s), what);
    }
}

// Fails unless the descriptor count of the server tree under @p top is back
// to @p baseline within 1 s; @p what says which connections ended.
void require_back_to(Context& ctx, pid_t top, const std::vector<TreeFd>& baseline,
                     const std::string& what) {
    const Deadline within(1s);
    std::vector<TreeFd> now;
    for (;;) {
        now = tree_fds(top);
        if (now.size() <= baseline.size()) return;
        if (within.expired()) break;
        std::this_thread::sleep_for(scaled(50ms));
    }
    ctx.require_running("after " + what);
    const std::string before = whose(top, baseline);
    const std::string after = whose(top, now);
    fail(
        fmt::format("{} had {} open descriptors when idle before, and {}{} 1 s after {} "
                    "ended; new ones: {}",
                    before, baseline.size(), after == before ? "" : after + " had ", now.size(),
                    what, extra_fds(baseline, now, top)));
}

// A pool of processes (prefork, fdpass), idle: no socket but the listening
// one is open in two of its processes. After fork() each process closes
// what is not its own: the parent the worker's end of its channel, a
// worker the parent's ends of the other workers' channels.
void require_unshared_sockets(Context& ctx, const std::vector<TreeFd>& fds) {
    const auto listening = procfs::listening_inodes(ctx.port());
    std::map<std::uint64_t, std::vector<const TreeFd*>> holders;
    for (const auto& fd : fds) {
        const auto inode = procfs::socket_inode(fd.fd.target);
        if (!inode || std::binary_search(listening.begin(), listening.end(), *inode)) continue;
        holders[*inode].push_back(&fd);
    }
    for (const auto& [inode, held] : holders) {
        std::set<pid_t> pids;
        for (const TreeFd* fd : held) pids.insert(fd->pid);
        if (pids.size() < 2) continue;
        std::string where;
        for (const TreeFd* fd : held) {
            where += fmt::format("{}fd {} of pid {}{}", where.empty() ? "" : ", ", fd->fd.fd,
                                 fd->pid, fd->pid == ctx.pid() ? " (the parent)" : "");
        }
        fail(fmt::format("idle, the socket socket:[{}] is open in {} processes of the server: {}; "
                         "apart from the listening socket, every socket belongs to one process",
                         inode, pids.size(), where),
             "after fork(), each process closes the descriptors that are not its own: the "
             "parent closes the worker's end of its channel, the worker closes the parent's end "
             "and the parent's ends of the other workers' channels (a worker that holds them "
             "keeps those channels open after their own worker died)");
    }
}

// fd-leak: the descriptor count of the server and all its descendants returns to its baseline.
void check_fd_leak(Context& ctx) {
    const pid_t top = ctx.pid();
    const auto baseline = settled_fds(top);
    ctx.log("fd baseline of pid {} and its descendants: {}", top, baseline.size());
    const Model model = ctx.lab().model;
    if (model == Model::process_pool || model == Model::descriptor_passing) {
        require_unshared_sockets(ctx, baseline);
    }
    const Deadline overall(60s);
    for (int i = 0; i < 100; ++i) one_connection(ctx, i, overall);
    require_back_to(ctx, top, baseline,
                    "100 connections (80 normal, 10 malformed, 10 reset mid-reply)");
    // A slow leak (one descriptor per thousand connections) shows only after many.
    std::vector<std::string> args = {"-c",        std::to_string(short_children),
                                     "-t",        std::to_string(short_per_child),
                                     "-b",        "1",
                                     "--timeout", scaled_seconds_arg(5),
                                     "-q"};
    // csd-client checks alphabet replies that end in a FIN. The rst lab's
    // end in an RST, which it counts as a failure unless it closes first,
    // once its byte came; cork's carry a header line, sendfile's are the
    // served file. Those get --count-only: the descriptors are what this
    // check looks at, and the 100 connections above checked the bytes.
    const ReplyFormat& reply = ctx.reply();
    if (ends_with_reset(ctx.lab()) || reply.header_line() || !reply.alphabet()) {
        args.emplace_back("--count-only");
    }
    run_client(ctx, args, 60s);
    require_back_to(ctx, top, baseline,
                    fmt::format("those and {} more short connections ({} at a time)",
                                short_connections, short_children));
}

}  // namespace

CSD_CHECK(fd_leak) {
    return {"fd-leak",
            5,
            check_fd_leak,
            "the descriptor count returns to its idle value after 2100 connections",
            "close every descriptor you are done with on every path: after a reply, after a "
            "malformed request, after EPIPE/ECONNRESET, and (fork) the connected socket in the "
            "parent right after fork()",
            {"connections", "cpu"}};
}

}  // namespace csd::grade
