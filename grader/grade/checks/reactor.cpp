// architecture (Model::reactor), spread, stalled-loops: the checks of a
// server of -n event loops, one per thread (lab reactor). They look at the
// server from the outside: its threads (/proc/PID/task), what each thread
// is blocked in (/proc/TID/syscall) and how often it slept
// (voluntary_ctxt_switches), its epoll instances (`anon_inode:[eventpoll]`
// in /proc/PID/fd) and the interest list of each (/proc/PID/fdinfo/EPFD).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "syscalls.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr const char* reactor_hint =
    "run -n event loops, each on a thread of its own with an epoll instance of its own "
    "(epoll_create1 once per loop, at start), every connection in exactly one loop's epoll set; "
    "besides the loops, at most one acceptor thread, which waits in poll() (not in an epoll "
    "instance of its own): no thread per client, no epoll per client, no loop shared by several "
    "threads";

int loops_of(const Context& ctx) {
    const int n = ctx.lab().workers;
    if (n <= 0) fail(fmt::format("the grader has no loop count (-n) for lab {}", ctx.lab().id));
    return n;
}

// The descriptors of @p pid that are epoll instances.
std::vector<int> eventpolls(pid_t pid) {
    std::vector<int> out;
    for (const auto& fd : procfs::open_fds(pid)) {
        if (fd.target == "anon_inode:[eventpoll]") out.push_back(fd.fd);
    }
    return out;
}

std::string tid_list(const std::vector<pid_t>& tids) {
    return tids.empty() ? std::string("none") : fmt::format("{}", fmt::join(tids, ", "));
}

// Fails unless the server has @p n loops' worth of threads (n, or n + 1
// with an acceptor, plus a sanitizer's own) and exactly @p n epoll
// instances, given 2 s to get there; returns the epoll descriptors.
std::vector<int> require_loops(Context& ctx, int n, std::string_view when) {
    const int runtime = runtime_threads(ctx.pid());
    std::vector<pid_t> tids;
    std::vector<int> epolls;
    const bool ok = poll_until(2s, [&] {
        tids = procfs::thread_ids(ctx.pid());
        epolls = eventpolls(ctx.pid());
        const int threads = static_cast<int>(tids.size()) - runtime;
        return (threads == n || threads == n + 1) && epolls.size() == static_cast<std::size_t>(n);
    });
    if (ok) return epolls;
    ctx.require_running(when);
    const int threads = static_cast<int>(tids.size()) - runtime;
    if (threads != n && threads != n + 1) {
        fail(
            fmt::format("{}, the server (pid {}) started with -n {} has {} thread{}{}; expected "
                        "{} (the loops) or {} (the loops and an acceptor)",
                        when, ctx.pid(), n, threads, threads == 1 ? "" : "s",
                        runtime > 0 ? " besides the sanitizer's and signal threads" : "", n, n + 1),
            reactor_hint);
    }
    fail(fmt::format(
             "{}, the server (pid {}) started with -n {} holds {} epoll instance{} "
             "(anon_inode:[eventpoll]: fds {}); expected {}, one per loop",
             when, ctx.pid(), n, epolls.size(), epolls.size() == 1 ? "" : "s",
             epolls.empty() ? std::string("none") : fmt::format("{}", fmt::join(epolls, ", ")), n),
         reactor_hint);
}

bool in_epoll_wait(const procfs::SyscallSample& s) {
    if (s.running || !s.number) return false;
    const std::string name = syscall_name(*s.number);
    return name == "epoll_wait" || name == "epoll_pwait" || name == "epoll_pwait2";
}

// The threads of the server blocked in epoll_wait() (its loops, when idle),
// once there are @p n of them (given 1 s); nullopt when /proc/TID/syscall
// cannot be read where the grader runs.
std::optional<std::vector<pid_t>> waiting_loops(Context& ctx, int n) {
    std::vector<pid_t> waiting;
    bool readable = true;
    (void)poll_until(1s, [&] {
        waiting.clear();
        for (const pid_t tid : procfs::thread_ids(ctx.pid())) {
            const auto s = procfs::current_syscall(tid);
            if (!s.readable) readable = false;
            if (in_epoll_wait(s)) waiting.push_back(tid);
        }
        return !readable || waiting.size() == static_cast<std::size_t>(n);
    });
    if (!readable) return std::nullopt;
    return waiting;
}

// How often thread @p tid of @p pid went to sleep so far (0 when gone).
std::uint64_t thread_switches(pid_t pid, pid_t tid) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/status", pid, tid));
    std::stringstream text;
    text << in.rdbuf();
    return procfs::parse_voluntary_switches(text.str()).value_or(0);
}

std::map<pid_t, std::uint64_t> switches_of(pid_t pid, const std::vector<pid_t>& tids) {
    std::map<pid_t, std::uint64_t> out;
    for (const pid_t tid : tids) out[tid] = thread_switches(pid, tid);
    return out;
}

// Connections that got their 4000-byte reply and are held open.
std::vector<Connection> hold_served(Context& ctx, int count, std::string_view what) {
    std::vector<Connection> held;
    const Deadline overall(30s);
    for (int i = 1; i <= count; ++i) {
        const std::string label = fmt::format("{} {} of {} (all held open)", what, i, count);
        held.push_back(Connection::open(ctx.port(), overall.within(3s)));
        held.back().send_all(request_line(4000), overall.within(3s), label);
        expect_reply(ctx.reply(), held.back(), 4000, overall.within(3s), label);
    }
    return held;
}

// For each epoll instance of the server, how many of @p held it watches;
// fails when one of them is watched by no epoll instance or by several.
std::map<int, int> connections_per_epoll(Context& ctx, const std::vector<Connection>& held,
                                         const std::vector<int>& epolls, std::string_view when) {
    std::map<std::uint64_t, int> fd_of_inode;
    for (const auto& fd : procfs::open_fds(ctx.pid())) {
        if (const auto inode = procfs::socket_inode(fd.target)) fd_of_inode[*inode] = fd.fd;
    }
    std::map<int, std::vector<int>> watched;  // epoll fd -> its interest list
    for (const int ep : epolls) {
        const auto targets = procfs::epoll_targets(ctx.pid(), ep);
        if (!targets) {
            ctx.require_running(when);
            skip(
                fmt::format("/proc/{}/fdinfo/{} (the interest list of an epoll instance) could "
                            "not be read where the grader runs",
                            ctx.pid(), ep));
        }
        watched[ep] = *targets;
    }
    // One read of /proc/net/tcp for all of them (it can be long on a busy machine).
    std::map<std::uint16_t, std::uint64_t> inode_of_client;  // client port -> server side
    (void)poll_until(1s, [&] {
        inode_of_client.clear();
        for (const auto& t : procfs::tcp_sockets()) {
            if (t.local_port == ctx.port() && t.state != procfs::tcp_listen && t.inode != 0) {
                inode_of_client[t.remote_port] = t.inode;
            }
        }
        return std::all_of(held.begin(), held.end(), [&](const Connection& c) {
            return inode_of_client.contains(c.local_port());
        });
    });
    std::map<int, int> count;
    for (const int ep : epolls) count[ep] = 0;
    for (std::size_t i = 0; i < held.size(); ++i) {
        const auto inode = inode_of_client.find(held[i].local_port());
        if (inode == inode_of_client.end() || !fd_of_inode.contains(inode->second)) {
            ctx.require_running(when);
            fail(fmt::format("{}: connection {} is not among the server's descriptors", when,
                             i + 1));
        }
        const int fd = fd_of_inode[inode->second];
        std::vector<int> in;
        for (const auto& [ep, targets] : watched) {
            if (std::find(targets.begin(), targets.end(), fd) != targets.end()) in.push_back(ep);
        }
        if (in.size() != 1) {
            fail(fmt::format(
                     "{}: connection {} (fd {} of the server) is in the interest list of "
                     "{} epoll instances{}; a connection belongs to exactly one loop",
                     when, i + 1, fd, in.size(),
                     in.empty() ? std::string() : fmt::format(" (fds {})", fmt::join(in, ", "))),
                 reactor_hint);
        }
        ++count[in.front()];
    }
    return count;
}

std::string counts_text(const std::map<int, int>& count) {
    std::string text;
    for (const auto& [ep, c] : count) {
        text += fmt::format("{}epoll fd {}: {}", text.empty() ? "" : ", ", ep, c);
    }
    return text;
}

}  // namespace

void check_reactor_architecture(Context& ctx) {
    const int n = loops_of(ctx);
    (void)require_loops(ctx, n, "idle, before any client");
    // Idle, every loop sleeps in epoll_wait() and stays asleep: a loop
    // that wakes up now and then to look at its inbox answers late and
    // costs CPU for nothing.
    if (const auto loops = waiting_loops(ctx, n)) {
        if (loops->size() != static_cast<std::size_t>(n)) {
            fail(
                fmt::format("idle, {} thread{} of the server (pid {}) wait{} in epoll_wait() ({}); "
                            "expected {}, one per loop",
                            loops->size(), loops->size() == 1 ? "" : "s", ctx.pid(),
                            loops->size() == 1 ? "s" : "", tid_list(*loops), n),
                reactor_hint);
        }
        const auto before = switches_of(ctx.pid(), *loops);
        std::this_thread::sleep_for(scaled(500ms));
        const auto after = switches_of(ctx.pid(), *loops);
        for (const pid_t tid : *loops) {
            const std::uint64_t woke = after.at(tid) - std::min(after.at(tid), before.at(tid));
            if (woke > 2) {
                fail(fmt::format("idle for 0.5 s, loop thread {} woke up {} times", tid, woke),
                     "a loop sleeps in epoll_wait() with no timeout (-1) until something happens: "
                     "wake it with its own descriptor (write to its eventfd when you hand it a "
                     "connection, and watch that eventfd in its epoll set), never by polling "
                     "its inbox on a timeout");
            }
        }
        ctx.log("idle: loop threads {} asleep in epoll_wait()", tid_list(*loops));
    } else {
        ctx.log("/proc/TID/syscall is not readable here: the idle loops were not looked at");
    }
    const int count = 4 * n;
    const auto held = hold_served(ctx, count, "connection");
    const std::string when = fmt::format("with {} connections held open", count);
    const auto epolls = require_loops(ctx, n, when);
    const auto per_epoll = connections_per_epoll(ctx, held, epolls, when);
    ctx.log("{}: {}", when, counts_text(per_epoll));
}

void check_spread(Context& ctx) {
    const int n = loops_of(ctx);
    const auto epolls = require_loops(ctx, n, "idle, before any client");
    const auto loops = waiting_loops(ctx, n);
    const auto before = loops ? switches_of(ctx.pid(), *loops) : std::map<pid_t, std::uint64_t>{};
    const int count = 10 * n;
    const auto held = hold_served(ctx, count, "connection");
    const std::string when = fmt::format("with {} connections held open", count);
    const auto per_epoll = connections_per_epoll(ctx, held, epolls, when);
    ctx.log("{}: {}", when, counts_text(per_epoll));
    for (const auto& [ep, c] : per_epoll) {
        if (c == 0) {
            fail(fmt::format("{}, the epoll instance fd {} watches none of them ({})", when, ep,
                             counts_text(per_epoll)),
                 "every loop must get connections: with -m reuseport each loop has a listening "
                 "socket of its own (SO_REUSEPORT), which only its epoll set watches, and the "
                 "kernel spreads the connections over them; with -m handoff the acceptor hands "
                 "them to the loops in turn");
        }
    }
    // Each loop's thread woke up to serve its share.
    if (loops && loops->size() == static_cast<std::size_t>(n)) {
        const auto after = switches_of(ctx.pid(), *loops);
        for (const pid_t tid : *loops) {
            if (after.at(tid) <= before.at(tid)) {
                fail(fmt::format("{}, loop thread {} never woke up: another thread serves its "
                                 "connections",
                                 when, tid),
                     reactor_hint);
            }
        }
    }
}

void check_stalled_loops(Context& ctx) {
    const int n = loops_of(ctx);
    (void)require_loops(ctx, n, "idle, before any client");
    const Deadline overall(30s);
    // n - 1 clients ask for 64 MiB each through a narrow window and never
    // read: each reply fills the socket buffers of its loop's connection.
    std::vector<Connection> stalled;
    for (int i = 1; i < n; ++i) {
        stalled.push_back(Connection::open(ctx.port(), overall.within(3s), Window::narrow));
        stalled.back().send_all(request_line(64ULL << 20), overall.within(3s),
                                "a client that never reads");
    }
    std::this_thread::sleep_for(scaled(300ms));
    // Then 2n clients, one after another: the connections go to every loop,
    // the ones that serve a stalled client too.
    for (int i = 1; i <= 2 * n; ++i) {
        const std::string label = fmt::format(
            "client {} of {}, one after another, while {} clients leave their 64 MiB "
            "replies unread",
            i, 2 * n, n - 1);
        try {
            fetch(ctx.reply(), ctx.port(), 4000, Deadline(2s), label);
        } catch (const CheckFailed& e) {
            fail(e.what(),
                 "a loop never waits for one client: non-blocking sockets, write what fits, "
                 "keep your position, and watch EPOLLOUT only while something is owed; a loop "
                 "that blocks in write() stops every client it serves");
        }
    }
    for (auto& c : stalled) c.reset();
}

CSD_CHECK(spread) {
    return {
        "spread", 10, check_spread,
        "reactor: 10 x -n connections held open: every loop's epoll set watches some of them "
        "(/proc/PID/fdinfo) and every loop's thread woke up to serve them",
        "every loop must get connections: with -m reuseport each loop has a listening socket of "
        "its own (SO_REUSEPORT) that only its epoll set watches; with -m handoff the acceptor "
        "hands the connections to the loops in turn"};
}

CSD_CHECK(stalled_loops) {
    return {
        "stalled-loops",
        10,
        check_stalled_loops,
        "reactor: -n - 1 clients leave a 64 MiB reply unread (narrow window); 2 x -n clients "
        "after them, one after another, are each served within 2 s",
        "a loop never waits for one client: non-blocking sockets, write what fits, keep your "
        "position, watch EPOLLOUT only while something is owed; a loop blocked in write() stops "
        "every client it serves",
        {"cpu"}};
}

}  // namespace csd::grade
