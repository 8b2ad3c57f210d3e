// architecture: the processes and threads of the server, seen in /proc, match the lab.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

std::string process_list(const std::vector<procfs::ProcStat>& ps) {
    std::string text;
    for (std::size_t i = 0; i < ps.size() && i < 10; ++i) {
        text +=
            fmt::format("{}{} ({}, state {})", i ? ", " : "", ps[i].pid, ps[i].comm, ps[i].state);
    }
    if (ps.size() > 10) text += fmt::format(" and {} more", ps.size() - 10);
    return text;
}

// Fails unless the server is, right now, one process with one thread.
void require_single(Context& ctx, std::string_view when, const std::string& hint) {
    const auto below = procfs::descendants(ctx.pid());
    if (!below.empty()) {
        fail(fmt::format("{}: the server (pid {}) has {} child process{}: {}", when, ctx.pid(),
                         below.size(), below.size() == 1 ? "" : "es", process_list(below)),
             hint);
    }
    int threads = procfs::thread_count(ctx.pid());
    if (threads == 0) ctx.require_running(when);
    // io_uring's kernel workers are threads of the process, not the server's.
    int kernel = 0;
    if (ctx.lab().model == Model::io_uring_loop) kernel = io_uring_kernel_threads(ctx.pid());
    threads -= kernel;
    if (threads != 1) {
        fail(fmt::format("{}: the server (pid {}) has {} threads{}", when, ctx.pid(), threads,
                         kernel > 0
                             ? fmt::format(" (not counting {} io_uring kernel workers)", kernel)
                             : ""),
             hint);
    }
}

// One process, one thread while a client leaves its 64 MiB reply unread
// (threads that exist only while a big reply is in flight show up here).
void while_stalled(Context& ctx, const std::string& hint) {
    const std::string when = "while a client left its 64 MiB reply unread";
    Connection stalled = Connection::open(ctx.port(), Deadline(3s));
    stalled.send_all(request_line(64ULL << 20), Deadline(3s), when);
    for (int i = 0; i < 10; ++i) {
        std::this_thread::sleep_for(scaled(50ms));
        require_single(ctx, when, hint);
    }
    stalled.reset();
}

// One process, one thread: idle, while @p clients clients get @p size bytes
// at once, while a big reply stalls, idle again.
void single_process(Context& ctx, int clients, std::uint64_t size, const std::string& hint) {
    require_single(ctx, "idle, before any client", hint);
    const std::string during =
        fmt::format("while {} clients asked for {} bytes each at the same time", clients, size);
    std::vector<Connection> conns;
    const Deadline overall(30s);
    for (int i = 0; i < clients; ++i) {
        conns.push_back(Connection::open(ctx.port(), overall.within(3s)));
        conns.back().send_all(request_line(size), overall.within(3s), "request");
    }
    int samples = 0;
    expect_replies_together(ctx.reply(), conns, std::vector<std::uint64_t>(conns.size(), size),
                            overall, during, [&] {
                                require_single(ctx, during, hint);
                                ++samples;
                            });
    ctx.log("{} samples of processes and threads during the burst", samples);
    conns.clear();
    while_stalled(ctx, hint);
    std::this_thread::sleep_for(scaled(100ms));
    require_single(ctx, "idle, after those clients left", hint);
}

// The processes among @p top and its descendants holding `socket:[inode]`, with the fd.
std::vector<std::pair<pid_t, int>> holders(pid_t top, std::uint64_t inode) {
    const std::string target = fmt::format("socket:[{}]", inode);
    std::vector<pid_t> pids{top};
    for (const auto& p : procfs::descendants(top)) pids.push_back(p.pid);
    std::vector<std::pair<pid_t, int>> out;
    for (const pid_t pid : pids) {
        for (const auto& fd : procfs::open_fds(pid)) {
            if (fd.target == target) out.emplace_back(pid, fd.fd);
        }
    }
    return out;
}

constexpr const char* fork_hint =
    "accept() in the parent, then fork() one new child per connection: the child closes the "
    "listening socket, serves that one client and exits; the parent closes the connected "
    "socket and goes back to accept()";

void process_per_connection(Context& ctx) {
    const pid_t top = ctx.pid();
    const auto listen_inode = procfs::listening_inode(ctx.port());
    if (!listen_inode)
        fail(fmt::format("no socket listens on port {} (/proc/net/tcp)", ctx.port()));
    std::set<pid_t> before;
    for (const auto& p : procfs::descendants(top)) before.insert(p.pid);
    const auto parent_fds = procfs::open_fds(top);

    std::vector<Connection> held;
    std::vector<pid_t> servers;
    const Deadline overall(30s);
    for (int i = 1; i <= 5; ++i) {
        const std::string label = fmt::format("connection {} of 5 (all held open)", i);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(4000), overall.within(3s), label);
        expect_reply(ctx.reply(), conn, 4000, overall.within(3s), label);
        const auto inode =
            poll_until(1s, [&] { return procfs::connection_inode(ctx.port(), conn.local_port()); });
        if (!inode) fail(label + ": /proc/net/tcp shows no accepted socket for it");
        // The parent may close its copy a moment after fork(): give it 500 ms.
        std::vector<std::pair<pid_t, int>> owners;
        const auto parent_let_go = poll_until(500ms, [&] {
            owners = holders(top, *inode);
            return std::none_of(owners.begin(), owners.end(),
                                [&](const auto& o) { return o.first == top; });
        });
        if (!parent_let_go) {
            const auto fd = std::find_if(owners.begin(), owners.end(), [&](const auto& o) {
                                return o.first == top;
                            })->second;
            if (owners.size() == 1) {
                fail(fmt::format("{}: served by the server process itself (pid {}), not by a "
                                 "child process",
                                 label, top),
                     fork_hint);
            }
            fail(fmt::format("{}: the parent (pid {}) still holds the connected socket (fd {} -> "
                             "socket:[{}]) 500 ms after the reply",
                             label, top, fd, *inode),
                 fork_hint);
        }
        if (owners.empty()) fail(label + ": no process of the server holds its socket", fork_hint);
        const pid_t child = owners.front().first;
        if (before.contains(child)) {
            fail(fmt::format("{}: served by process {}, which existed before the connection was "
                             "made; fork a new child for each connection",
                             label, child),
                 fork_hint);
        }
        if (const auto it = std::find(servers.begin(), servers.end(), child); it != servers.end()) {
            fail(fmt::format("{}: served by process {}, which also serves connection {}", label,
                             child, it - servers.begin() + 1),
                 fork_hint);
        }
        const std::string listen_target = fmt::format("socket:[{}]", *listen_inode);
        int listen_fd = -1;
        const auto closed = poll_until(500ms, [&] {
            listen_fd = -1;
            for (const auto& fd : procfs::open_fds(child)) {
                if (fd.target == listen_target) listen_fd = fd.fd;
            }
            return listen_fd < 0;
        });
        if (!closed) {
            fail(fmt::format("{}: the child (pid {}) serving it still has the listening socket "
                             "open (fd {} -> {})",
                             label, child, listen_fd, listen_target),
                 fork_hint);
        }
        servers.push_back(child);
        held.push_back(std::move(conn));
    }
    const auto now = procfs::open_fds(top);
    if (now.size() > parent_fds.size()) {
        fail(fmt::format("with 5 connections held open, the parent's (pid {}) descriptors grew "
                         "from {} to {}",
                         top, parent_fds.size(), now.size()),
             fork_hint);
    }
    ctx.log("5 connections served by children {}", fmt::join(servers, ", "));
}

// architecture: processes and threads as the lab requires.
void check_architecture(Context& ctx) {
    switch (ctx.lab().model) {
        case Model::single_process:
            single_process(ctx, 3, 16ULL << 20,
                           "the iterative server serves one client at a time in its one "
                           "process: no fork(), no threads (those come in later labs)");
            return;
        case Model::process_per_connection:
            process_per_connection(ctx);
            return;
        case Model::event_loop:
            single_process(ctx, 20, 1ULL << 20,
                           fmt::format("serve every client from one loop around {}() in one "
                                       "process and one thread: no fork(), no threads",
                                       ctx.lab().wait_calls.front()));
            return;
        case Model::io_uring_loop:
            require_ring_not_epoll(ctx, "idle, before any client");
            single_process(ctx, 20, 1ULL << 20,
                           "serve every client from one loop around io_uring_enter() in one "
                           "process and one thread: no fork(), no threads of your own");
            require_ring_not_epoll(ctx, "idle, after the clients left");
            return;
        case Model::process_pool:
            check_process_pool(ctx);
            return;
        case Model::thread_per_connection:
            check_thread_per_connection(ctx);
            return;
        case Model::thread_pool:
            check_thread_pool(ctx);
            return;
        case Model::descriptor_passing:
            check_descriptor_passing(ctx);
            return;
        case Model::reactor:
            check_reactor_architecture(ctx);
            return;
        case Model::none:
            break;
    }
    fail(fmt::format("the grader has no architecture check for lab {}", ctx.lab().id));
}

}  // namespace

CSD_CHECK(architecture) {
    return {"architecture", 10, check_architecture,
            "processes and threads as the lab requires (seen in /proc)",
            "build the server the way the handout asks"};
}

}  // namespace csd::grade
