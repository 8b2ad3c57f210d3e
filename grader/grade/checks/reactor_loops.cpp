// What the checks of a server of -n event loops, one per thread (lab
// reactor: architecture, spread, stalled-loops), share: its loops seen from
// the outside, in /proc.
#include "reactor_loops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "checks.hpp"
#include "expect.hpp"
#include "io_threads.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "request_wakeups.hpp"
#include "syscalls.hpp"

namespace csd::grade::reactor {

using namespace std::chrono_literals;

namespace {

bool in_epoll_wait(const procfs::SyscallSample& s) {
    if (s.running || !s.number) return false;
    const std::string name = syscall_name(*s.number);
    return name == "epoll_wait" || name == "epoll_pwait" || name == "epoll_pwait2";
}

}  // namespace

int loops_of(const Context& ctx) {
    const int n = ctx.lab().workers;
    if (n <= 0) fail(fmt::format("the grader has no loop count (-n) for lab {}", ctx.lab().id));
    return n;
}

std::vector<int> require_loops(Context& ctx, int n, std::string_view when) {
    const int runtime = runtime_threads(ctx.pid());
    std::vector<pid_t> tids;
    std::vector<int> epolls;
    const bool ok = poll_until(2s, [&] {
        tids = procfs::thread_ids(ctx.pid());
        epolls = procfs::epoll_fds(ctx.pid());
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

std::map<pid_t, std::uint64_t> switches_of(pid_t pid, const std::vector<pid_t>& tids) {
    std::map<pid_t, std::uint64_t> out;
    for (const pid_t tid : tids) out[tid] = procfs::task_voluntary_switches(pid, tid).value_or(0);
    return out;
}

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

std::optional<int> set_watching(pid_t pid, int fd, const std::vector<int>& epolls) {
    for (const int ep : epolls) {
        const auto targets = procfs::epoll_targets(pid, ep);
        if (targets && std::find(targets->begin(), targets->end(), fd) != targets->end()) return ep;
    }
    return std::nullopt;
}

std::vector<int> connection_sets(Context& ctx, const std::vector<Connection>& held,
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
    std::vector<int> sets;
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
        sets.push_back(in.front());
    }
    return sets;
}

std::map<int, int> connections_per_epoll(Context& ctx, const std::vector<Connection>& held,
                                         const std::vector<int>& epolls, std::string_view when) {
    std::map<int, int> count;
    for (const int ep : epolls) count[ep] = 0;
    for (const int ep : connection_sets(ctx, held, epolls, when)) ++count[ep];
    return count;
}

std::map<pid_t, int> loop_sets(const std::vector<pid_t>& loops) {
    std::map<pid_t, int> set_of;
    (void)poll_until(1s, [&] {
        set_of.clear();
        for (const pid_t tid : loops) {
            const auto s = procfs::current_syscall(tid);
            if (in_epoll_wait(s) && !s.args.empty()) set_of[tid] = static_cast<int>(s.args[0]);
        }
        return set_of.size() == loops.size();
    });
    if (set_of.size() != loops.size()) return {};
    return set_of;
}

std::string counts_text(const std::map<int, int>& count) {
    std::string text;
    for (const auto& [ep, c] : count) {
        text += fmt::format("{}epoll fd {}: {}", text.empty() ? "" : ", ", ep, c);
    }
    return text;
}

// One request on a connection of each loop's set, in turn, untraced: the
// loop's own thread wakes up for it and no thread wakes up for them all.
// Then one more request on each of @p held under strace: each loop thread
// reads or writes some connection itself.
void require_loops_do_the_work(Context& ctx, std::vector<Connection>& held,
                               const std::vector<pid_t>& loops, const std::vector<int>& epolls,
                               const std::string& when) {
    const auto set_of_loop = loop_sets(loops);
    std::set<pid_t> every;  // woke for every set's request, untraced
    if (set_of_loop.empty()) {
        ctx.log("{}: the set each loop waits in could not be read (/proc/TID/syscall)", when);
    } else {
        const auto sets = connection_sets(ctx, held, epolls, when);
        std::vector<Connection*> picks;
        std::vector<std::pair<pid_t, int>> owner;  // per pick: its loop thread and its set
        for (const auto& [tid, ep] : set_of_loop) {
            const auto it = std::find(sets.begin(), sets.end(), ep);
            if (it == sets.end()) continue;
            picks.push_back(&held[static_cast<std::size_t>(it - sets.begin())]);
            owner.emplace_back(tid, ep);
        }
        const auto wakes =
            request_wakeups(ctx, picks, 4000, "one request on a connection of each loop's set");
        for (std::size_t k = 0; k < picks.size(); ++k) {
            if (wakes.woke[k].contains(owner[k].first)) continue;
            fail(fmt::format("{}, one request on a connection of each loop's set in turn: loop "
                             "thread {} (asleep in epoll_wait() on epoll fd {}, which watches "
                             "that connection) did not wake up for it; threads that did: {}",
                             when, owner[k].first, owner[k].second,
                             wakes.woke[k].empty() ? std::string("none")
                                                   : threads_text(ctx.pid(), wakes.woke[k])),
                 "each loop's thread serves the connections of its own epoll set, itself: it "
                 "is the one that wakes up when one of them has a request");
        }
        if (picks.size() >= 2) every = wakes.every;
        ctx.log(
            "{}: a request on a connection of each of {} sets in turn, untraced: {} woke "
            "for every one",
            when, picks.size(),
            every.empty() ? std::string("no thread") : threads_text(ctx.pid(), every));
        // A loop thread that wakes for the other sets' requests serves them.
        std::set<pid_t> loops_for_all;
        for (const pid_t t : every) {
            if (set_of_loop.contains(t)) loops_for_all.insert(t);
        }
        if (!loops_for_all.empty()) {
            fail(fmt::format("{}, one request on a connection of each loop's set in turn: loop "
                             "thread {} woke up for every one of them, far more often than "
                             "when the server is idle: it serves the other loops' connections",
                             when, threads_text(ctx.pid(), loops_for_all)),
                 "each loop's thread serves the connections of its own epoll set, itself: no "
                 "thread serves the others' sets, no loop only waits");
        }
    }
    const auto io = io_threads(ctx, held);
    if (!io) return;
    // Another thread (not a loop) that woke for every set's request must
    // do so under strace too (a logger does); one that sleeps through them
    // while strace watches serves every loop's connections when it does
    // not.
    std::set<pid_t> hides;
    for (const pid_t t : every) {
        if (!io->woke.contains(t)) hides.insert(t);
    }
    if (!hides.empty()) {
        fail(fmt::format("{}, one request on a connection of each loop's set in turn: thread {} "
                         "woke up for every one of them, far more often than when the server "
                         "is idle, and not once while strace watched one more request on each: "
                         "it serves every loop's connections when no tracer is attached",
                         when, threads_text(ctx.pid(), hides)),
             "each loop's thread serves the connections of its own epoll set, itself: no "
             "thread serves the others' sets, no loop only waits");
    }
    std::string who;
    for (const auto& [tid, conns] : io->served) {
        who += fmt::format("{}thread {}: {} connection{}", who.empty() ? "" : ", ", tid,
                           conns.size(), conns.size() == 1 ? "" : "s");
    }
    for (const pid_t tid : loops) {
        // A loop that reads and writes through an io_uring of its own does
        // its I/O too, in the ring.
        if (io->served.contains(tid) || io->ring_submitters.contains(tid)) continue;
        fail(fmt::format("{}, one more request on each: loop thread {} (asleep in epoll_wait() on "
                         "its own set) read and wrote no connection itself (strace -f); the "
                         "connections each thread read or wrote: {}",
                         when, tid, who.empty() ? "none seen" : who),
             "each loop's thread serves the connections of its own epoll set, itself: no loop "
             "serves another's, no thread only waits");
    }
    ctx.log("{}: reads and writes by thread: {}", when, who);
}

}  // namespace csd::grade::reactor
