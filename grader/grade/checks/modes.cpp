// modes: the server is started in each of its modes (labs/labs.txt `mode`)
// and each mode shows its own evidence from the outside, idle: what each
// worker process or thread is blocked in and on which descriptor
// (/proc/TID/syscall, the poll() array or select() set in /proc/PID/mem,
// the epoll set in /proc/PID/fdinfo), how many sockets listen on the port
// and who holds them, the flags of the epoll interest lists (EPOLLET,
// EPOLLEXCLUSIVE), and for a thread pool who serves the connection that
// was just accepted. A server that takes -m and runs one design whatever it
// says serves every request and passes every other check of that mode.
// Each idle mode is also watched for 2 s (voluntary_ctxt_switches per
// task): no thread may wake up on a timer. In the reactor's -m handoff,
// every loop's epoll set must get some of 40 connections held open. Each
// mode then serves 100 short connections, then 100 more, after which its
// process tree has no more descriptors open than between the two (a leak
// on one mode's path; what a worker opens once, at its first client, is
// not one).
#include "modes.hpp"

#include <signal.h>
#include <sys/epoll.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bounded_turns.hpp"
#include "checks.hpp"
#include "client_run.hpp"
#include "expect.hpp"
#include "idle_watch.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "program.hpp"
#include "reactor_loops.hpp"
#include "selfpipe_runs.hpp"
#include "strace_text.hpp"
#include "syscalls.hpp"
#include "trace.hpp"
#include "waits.hpp"
#include "worker_pool.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace modes {

namespace {

struct Evidence {
    Model model;
    std::string_view mode;
    std::string_view what;
    bool herd = false;  // every idle worker wakes for each connection
};

// The evidence of every mode the course has (labs/labs.txt).
constexpr Evidence table[] = {
    {Model::process_pool, "accept",
     "every worker blocks in accept() on the shared listening socket, no lock"},
    {Model::process_pool, "lock",
     "one worker waits on the listening socket, holding the process-shared mutex; every other "
     "worker waits for that mutex (futex)"},
    {Model::process_pool, "fcntl",
     "one worker waits on the listening socket, holding the record lock; every other worker "
     "waits for it in fcntl(F_SETLKW)"},
    {Model::process_pool, "reuseport",
     "-n sockets listen on the port (SO_REUSEPORT), each held by one worker alone and none by "
     "the parent; each worker waits on its own"},
    {Model::process_pool, "select",
     "every worker waits in select() with the listening socket in its read set", true},
    {Model::process_pool, "epoll",
     "every worker waits in epoll_wait() on an epoll set watching the listening socket, without "
     "EPOLLEXCLUSIVE",
     true},
    {Model::process_pool, "epoll-exclusive",
     "every worker waits in epoll_wait() on an epoll set watching the listening socket with "
     "EPOLLEXCLUSIVE"},
    {Model::thread_pool, "queue",
     "one thread waits on the listening socket; a connection it accepts is served by another "
     "thread, a pool thread that took it from the queue"},
    {Model::thread_pool, "lock",
     "one pool thread waits on the listening socket (the others wait for the mutex), and the "
     "thread that accepts a connection serves it"},
    {Model::thread_pool, "nolock", "all -n pool threads wait on the listening socket at once"},
    {Model::reactor, "handoff", "one socket listens on the port, the acceptor's"},
    {Model::reactor, "reuseport",
     "-n sockets listen on the port (SO_REUSEPORT), each in the epoll set of a different loop"},
    {Model::event_loop, "lt", "the clients are watched level-triggered (no EPOLLET)"},
    {Model::event_loop, "et", "the clients are watched edge-triggered (EPOLLET)"},
    // The selfpipe program (no server model).
    {Model::none, "selfpipe",
     "SIGUSR1 has a handler and is not blocked; the program waits in select() on stdin and the "
     "read end of a pipe it holds both ends of"},
    {Model::none, "pselect",
     "SIGUSR1 has a handler; the program waits in pselect() with a signal mask that lets "
     "SIGUSR1 in (blocked the rest of the time)"},
    {Model::none, "signalfd",
     "SIGUSR1 is blocked and read from a signalfd, which the program waits on with stdin"},
};

}  // namespace

std::string_view evidence(Model model, std::string_view mode) {
    for (const auto& e : table) {
        if (e.model == model && e.mode == mode) return e.what;
    }
    return {};
}

bool wakes_every_worker(Model model, std::string_view mode) {
    for (const auto& e : table) {
        if (e.model == model && e.mode == mode) return e.herd;
    }
    return false;
}

}  // namespace modes

namespace {

// "mode lock (-m lock)", "the default mode accept (no flag)".
std::string mode_label(const LabMode& mode, bool is_default) {
    if (is_default) return fmt::format("the default mode {} (no flag)", mode.name);
    std::string flags;
    for (const auto a : mode.args) flags += (flags.empty() ? "" : " ") + std::string(a);
    return fmt::format("mode {} ({})", mode.name, flags);
}

// What every thread of @p pid waits on; skips when /proc/TID/syscall cannot be read.
std::vector<waits::TaskWait> thread_waits(Context& ctx, pid_t pid) {
    std::vector<waits::TaskWait> out;
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (procfs::is_io_worker(pid, tid)) continue;
        auto w = waits::wait_of(pid, tid);
        if (!w.readable) {
            ctx.require_running("idle");
            if (!procfs::thread_ids(pid).empty()) {
                skip(
                    fmt::format("/proc/{}/syscall cannot be read here (the grader reads it for "
                                "its own child process; a limit of where the grader runs, not "
                                "of your server)",
                                tid));
            }
            continue;  // gone meanwhile
        }
        out.push_back(std::move(w));
    }
    return out;
}

bool in_call(const waits::TaskWait& w, std::initializer_list<std::string_view> calls) {
    return std::find(calls.begin(), calls.end(), w.call) != calls.end();
}

// Two workers of @p waits (their epoll waits) that wait on one epoll
// instance, made before the fork and inherited (kcmp(2)): "" when each has
// its own. A shared instance wakes one waiter per event, whatever the
// flags say: the herd of -m epoll, and EPOLLEXCLUSIVE's answer to it, are
// each worker's own epoll set.
std::string shared_epoll(const std::vector<waits::TaskWait>& waits) {
    for (std::size_t i = 0; i < waits.size(); ++i) {
        const auto& a = waits[i];
        if (a.epoll_fd < 0) continue;
        for (std::size_t j = i + 1; j < waits.size(); ++j) {
            const auto& b = waits[j];
            if (b.epoll_fd < 0 || b.pid == a.pid) continue;
            if (procfs::same_open_file(a.pid, a.epoll_fd, b.pid, b.epoll_fd).value_or(false)) {
                return fmt::format(
                    "workers {} and {} wait on one epoll instance (fd {} of {} and fd {} of {} "
                    "are the same open file, kcmp(2)): it was made before the fork and is "
                    "shared; each worker makes its own after the fork",
                    a.pid, b.pid, a.epoll_fd, a.pid, b.epoll_fd, b.pid);
            }
        }
    }
    return {};
}

// The problem with the waits of the prefork workers in @p mode, "" when none.
std::string pool_problem(Context& ctx, std::string_view mode, const std::set<pid_t>& workers) {
    const auto n = workers.size();
    std::vector<waits::TaskWait> all;
    std::size_t on_listener = 0;
    std::size_t in_futex = 0;
    std::size_t in_record_lock = 0;
    std::string wrong;  // the first worker that does not wait as the mode says
    for (const pid_t pid : workers) {
        auto ws = thread_waits(ctx, pid);
        if (ws.empty()) return fmt::format("worker {} is gone", pid);
        const auto listeners = waits::listener_fds(pid, ctx.port());
        for (const auto& w : ws) {
            const bool on = waits::waits_on_any(w, listeners);
            on_listener += on ? 1U : 0U;
            in_futex += w.call == "futex" ? 1U : 0U;
            in_record_lock += w.record_lock ? 1U : 0U;
            bool right = on;
            if (mode == "accept") right = on && in_call(w, {"accept", "accept4"});
            if (mode == "select") right = on && in_call(w, {"select", "pselect6"});
            if (mode == "epoll" || mode == "epoll-exclusive") {
                right = on && w.call.starts_with("epoll_");
                for (const int fd : listeners) {
                    const auto it = w.epoll_events.find(fd);
                    if (it == w.epoll_events.end()) continue;
                    const bool exclusive = (it->second & EPOLLEXCLUSIVE) != 0;
                    if (exclusive != (mode == "epoll-exclusive") && wrong.empty()) {
                        wrong = fmt::format(
                            "worker {} watches the listening socket (fd {}) with events {:#x}, "
                            "{} EPOLLEXCLUSIVE (/proc/{}/fdinfo)",
                            pid, fd, it->second, exclusive ? "with" : "without", pid);
                    }
                }
            }
            if (!right && wrong.empty()) wrong = fmt::format("worker {} is in {}", pid, w.text());
        }
        all.insert(all.end(), ws.begin(), ws.end());
    }
    const std::string seen = fmt::format("the workers wait: {}", waits::list_text(all, true));
    if (mode == "epoll" || mode == "epoll-exclusive") {
        if (std::string shared = shared_epoll(all); !shared.empty()) return shared;
    }
    if (mode == "lock" || mode == "fcntl") {
        const std::size_t locked = mode == "lock" ? in_futex : in_record_lock;
        if (on_listener == 1 && locked + 1 >= n) return "";
        return fmt::format(
            "{} of {} workers wait on the listening socket and {} wait for the "
            "{}; {}",
            on_listener, n, locked,
            mode == "lock" ? "mutex (futex)" : "record lock (fcntl F_SETLKW)", seen);
    }
    if (mode == "reuseport") {
        const auto inodes = procfs::listening_inodes(ctx.port());
        if (inodes.size() != n) {
            return fmt::format("{} sockets listen on port {}; {}", inodes.size(), ctx.port(), seen);
        }
        const auto tree = procfs::process_tree(ctx.pid());
        for (const auto inode : inodes) {
            std::set<pid_t> holders;
            for (const auto& h : procfs::socket_holders(tree, inode)) holders.insert(h.pid);
            if (holders.size() != 1 || !workers.contains(*holders.begin())) {
                return fmt::format(
                    "the listening socket socket:[{}] is held by {}{}; each worker's own "
                    "socket is held by that worker alone",
                    inode, worker_pool::pids_text(holders),
                    holders.contains(ctx.pid())
                        ? fmt::format(" (the parent, {}, among them)", ctx.pid())
                        : "");
            }
        }
    }
    if (!wrong.empty() || on_listener != n) {
        return fmt::format("{}{}; {}", wrong, wrong.empty() ? "not every worker waits" : "", seen);
    }
    return "";
}

// The thread of @p pid that waits on the listening socket: fails unless it is exactly
// @p want of them (given 2 s); returns them.
std::vector<pid_t> listener_waiters(Context& ctx, std::size_t want, const std::string& label,
                                    const std::string& hint) {
    std::vector<pid_t> on;
    std::vector<waits::TaskWait> all;
    if (poll_until(2s, [&] {
            all = thread_waits(ctx, ctx.pid());
            const auto listeners = waits::listener_fds(ctx.pid(), ctx.port());
            on.clear();
            for (const auto& w : all) {
                if (waits::waits_on_any(w, listeners)) on.push_back(w.tid);
            }
            return on.size() == want;
        })) {
        return on;
    }
    ctx.require_running(label);
    fail(fmt::format("{}, idle: {} threads wait on the listening socket, {} expected; the "
                     "threads wait: {}",
                     label, on.size(), want, waits::list_text(all, false)),
         hint);
}

// prethread: the listener's waiter, then who serves the connection it accepts.
void thread_pool_evidence(Context& ctx, std::string_view mode, const std::string& label,
                          const std::string& hint) {
    const auto n = static_cast<std::size_t>(ctx.lab().workers);
    if (mode == "nolock") {
        (void)listener_waiters(ctx, n, label, hint);
        return;
    }
    const pid_t acceptor = listener_waiters(ctx, 1, label, hint).front();
    const Deadline overall(10s);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all(request_line(4000), overall.within(3s), label);
    expect_reply(ctx.reply(), conn, 4000, overall.within(3s), label);
    // The connection is held open and idle: its thread waits for the next request.
    std::vector<pid_t> serving;
    std::vector<waits::TaskWait> all;
    (void)poll_until(2s, [&] {
        const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), conn.local_port());
        all = thread_waits(ctx, ctx.pid());
        serving.clear();
        for (const auto& w : all) {
            if (fd && w.waits_on(*fd)) serving.push_back(w.tid);
        }
        return serving.size() == 1;
    });
    if (serving.size() != 1) {
        ctx.require_running(label);
        fail(fmt::format("{}: after one request on a connection held open, {} threads wait on "
                         "it (expected the one that serves it); the threads wait: {}",
                         label, serving.size(), waits::list_text(all, false)),
             hint);
    }
    const bool same = serving.front() == acceptor;
    if (same && mode == "lock") {
        // The accept lock is let go once accepted: while that thread
        // serves, another one holds the lock and waits on the listener.
        std::vector<pid_t> next;
        (void)poll_until(2s, [&] {
            all = thread_waits(ctx, ctx.pid());
            const auto listeners = waits::listener_fds(ctx.pid(), ctx.port());
            next.clear();
            for (const auto& w : all) {
                if (waits::waits_on_any(w, listeners) && w.tid != serving.front()) {
                    next.push_back(w.tid);
                }
            }
            return next.size() == 1;
        });
        if (next.size() == 1) return;
        fail(fmt::format("{}: while thread {} serves the connection it accepted (held open), {} "
                         "other threads wait on the listening socket (1 expected: the accept "
                         "lock held while serving stops the pool); the threads wait: {}",
                         label, serving.front(), next.size(), waits::list_text(all, false)),
             hint);
    }
    if (same == (mode == "lock")) return;
    fail(fmt::format("{}: thread {} waited on the listening socket, and the connection it "
                     "accepted is served by {}; the threads wait: {}",
                     label, acceptor,
                     same ? "that same thread" : fmt::format("thread {}", serving.front()),
                     waits::list_text(all, false)),
         hint);
}

// reactor: the listening sockets of the mode.
std::string reactor_problem(Context& ctx, std::string_view mode) {
    const auto inodes = procfs::listening_inodes(ctx.port());
    if (mode == "handoff") {
        if (inodes.size() == 1) return "";
        return fmt::format("{} sockets listen on port {}", inodes.size(), ctx.port());
    }
    const auto n = static_cast<std::size_t>(ctx.lab().workers);
    const auto listeners = waits::listener_fds(ctx.pid(), ctx.port());
    if (inodes.size() != n || listeners.size() != n) {
        return fmt::format("{} sockets listen on port {}, {} of them held by the server",
                           inodes.size(), ctx.port(), listeners.size());
    }
    std::map<int, std::vector<int>> epolls_of;  // listener fd -> the epoll sets watching it
    for (const int ep : procfs::epoll_fds(ctx.pid())) {
        const auto entries = procfs::epoll_interest(ctx.pid(), ep);
        if (!entries) continue;
        for (const auto& e : *entries) {
            if (std::find(listeners.begin(), listeners.end(), e.fd) != listeners.end()) {
                epolls_of[e.fd].push_back(ep);
            }
        }
    }
    std::set<int> used;
    for (const int fd : listeners) {
        const auto& eps = epolls_of[fd];
        if (eps.size() != 1 || !used.insert(eps.front()).second) {
            return fmt::format("listening socket fd {} is in {} epoll sets{}", fd, eps.size(),
                               eps.size() == 1 ? " (one that watches another listener too)" : "");
        }
    }
    return "";
}

// reactor, handoff: each loop's epoll set watches a wakeup of its own, an
// eventfd (or the read end of a pipe, the older way) in no other loop's
// set (the stop descriptor, shared, does not count): the acceptor hands a
// connection over by the loop's inbox and that wakeup.
void require_own_eventfds(Context& ctx, const std::vector<int>& epolls, const std::string& label) {
    std::map<int, std::string> target;  // fd -> what it is
    for (const auto& f : procfs::open_fds(ctx.pid())) target[f.fd] = f.target;
    std::map<int, std::vector<int>> eventfds_of;  // epoll fd -> the eventfds it watches
    std::map<int, int> sets_of;                   // eventfd -> how many sets watch it
    for (const int ep : epolls) {
        const auto fds = procfs::epoll_targets(ctx.pid(), ep);
        if (!fds) {
            ctx.require_running(label);
            skip(fmt::format("/proc/{}/fdinfo/{} could not be read where the grader runs",
                             ctx.pid(), ep));
        }
        for (const int fd : *fds) {
            if (target[fd] != "anon_inode:[eventfd]" && !target[fd].starts_with("pipe:")) continue;
            eventfds_of[ep].push_back(fd);
            ++sets_of[fd];
        }
    }
    for (const int ep : epolls) {
        const auto& mine = eventfds_of[ep];
        if (std::any_of(mine.begin(), mine.end(), [&](int fd) { return sets_of[fd] == 1; })) {
            continue;
        }
        fail(fmt::format("{}, idle: the epoll set of one loop (fd {}) watches no eventfd (or "
                         "pipe) of its own (its eventfds and pipes: {}; one watched by every "
                         "loop is the stop descriptor)",
                         label, ep,
                         mine.empty() ? "none" : fmt::format("{}", fmt::join(mine, ", "))),
             fmt::format("{}: each loop has an inbox and an eventfd of its own, in its epoll set; "
                         "the acceptor pushes the connection into the inbox and writes the "
                         "eventfd, and the loop adds it to its own set: no thread touches "
                         "another loop's epoll set",
                         label));
    }
}

// reactor, handoff: @p count new connections served under strace -f; each
// enters a loop's epoll set by an epoll_ctl(EPOLL_CTL_ADD) of that loop's
// own thread (one that waits in that set), which took it from its inbox:
// the acceptor never adds to a loop's set itself. Returns the connections,
// held open. Without strace, logged and left out.
std::vector<Connection> hold_added_by_loops(Context& ctx, int count, const std::string& label) {
    Strace trace(ctx.pid(),
                 std::string("epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2") + tracer_probe_calls);
    if (!trace.attached()) {
        ctx.log("{}: who adds the connections to the loops' sets not checked: {}", label,
                trace.why_not());
        return reactor::hold_served(ctx, count, label);
    }
    std::vector<Connection> held;
    try {
        held = reactor::hold_served(ctx, count, label);
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    const auto calls = parse_strace(text);
    std::map<int, std::set<pid_t>> waiters;  // epoll fd -> the threads that wait in it
    for (const auto& c : calls) {
        if (c.name.starts_with("epoll_wait") || c.name.starts_with("epoll_pwait")) {
            waiters[c.fd()].insert(c.pid != 0 ? static_cast<pid_t>(c.pid) : ctx.pid());
        }
    }
    for (const auto& c : calls) {
        const auto args = c.arguments();
        if (c.name != "epoll_ctl" || args.size() < 3 || args[1] != "EPOLL_CTL_ADD") continue;
        const auto it = waiters.find(c.fd());
        const pid_t tid = c.pid != 0 ? static_cast<pid_t>(c.pid) : ctx.pid();
        if (it == waiters.end() || it->second.contains(tid)) continue;
        fail(fmt::format("{}, {} new clients served under strace -f: thread {} added a "
                         "connection to the epoll set fd {}, in which thread{} {} wait{}: `{}({})`",
                         label, count, tid, c.fd(), it->second.size() == 1 ? "" : "s",
                         fmt::join(it->second, ", "), it->second.size() == 1 ? "s" : "", c.name,
                         c.args),
             fmt::format("{}: the acceptor pushes the connection into the loop's inbox and "
                         "writes its eventfd; the loop, woken, adds it to its own epoll set. No "
                         "thread touches another loop's set (and so each loop knows and counts "
                         "its own connections)",
                         label));
    }
    return held;
}

// reactor, handoff: the acceptor hands connections to every loop, not all to one.
void require_handoff_spread(Context& ctx, const std::string& label) {
    const int n = reactor::loops_of(ctx);
    const auto epolls = reactor::require_loops(ctx, n, label);
    require_own_eventfds(ctx, epolls, label);
    const auto held = hold_added_by_loops(ctx, 10 * n, label);
    const auto count = reactor::connections_per_epoll(ctx, held, epolls, label);
    for (const int ep : epolls) {
        const auto it = count.find(ep);
        if (it != count.end() && it->second > 0) continue;
        fail(fmt::format("{}, with {} served clients held open: the epoll set of one loop (fd {}) "
                         "watches none of them ({})",
                         label, held.size(), ep, reactor::counts_text(count)),
             fmt::format("{}: the acceptor hands each connection to a loop in turn (or to the "
                         "least loaded one), so every loop serves its share; a loop that never "
                         "gets a connection is a decoy",
                         label));
    }
}

// epoll: EPOLLET on the clients' entries (et) or on none of them (lt).
void event_loop_evidence(Context& ctx, std::string_view mode, const std::string& label,
                         const std::string& hint) {
    constexpr int clients = 3;
    const Deadline overall(10s);
    std::vector<Connection> held;
    for (int i = 0; i < clients; ++i) {
        held.push_back(Connection::open(ctx.port(), overall.within(3s)));
        held.back().send_all(request_line(4000), overall.within(3s), label);
        expect_reply(ctx.reply(), held.back(), 4000, overall.within(3s), label);
    }
    std::string problem;
    (void)poll_until(1s, [&] {
        problem.clear();
        std::map<int, std::uint32_t> events;  // client fd -> its mask in some epoll set
        for (const int ep : procfs::epoll_fds(ctx.pid())) {
            for (const auto& e : procfs::epoll_interest(ctx.pid(), ep)
                                     .value_or(std::vector<procfs::EpollEntry>{})) {
                events[e.fd] = e.events;
            }
        }
        for (const auto& c : held) {
            const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), c.local_port());
            if (!fd) {
                problem = fmt::format("the server holds no socket of the client at port {}",
                                      c.local_port());
                return false;
            }
            const auto it = events.find(*fd);
            if (it == events.end()) {
                problem = fmt::format("client fd {} is in no epoll set", *fd);
                return false;
            }
            const bool et = (it->second & EPOLLET) != 0;
            if (et != (mode == "et")) {
                problem = fmt::format("client fd {} is watched with events {:#x} ({} EPOLLET)", *fd,
                                      it->second, et ? "with" : "without");
                return false;
            }
        }
        return true;
    });
    if (problem.empty()) {
        if (mode == "et") require_bounded_turns(ctx, label, hint, 32u << 20);
        return;
    }
    ctx.require_running(label);
    fail(fmt::format("{}, with {} served clients held open: {} (/proc/{}/fdinfo)", label, clients,
                     problem, ctx.pid()),
         hint);
}

void require_evidence(Context& ctx, const LabMode& mode, const std::string& label) {
    const Model model = ctx.lab().model;
    const std::string_view what = modes::evidence(model, mode.name);
    if (what.empty()) {
        fail(fmt::format("the grader knows no evidence for {} of lab {}", label, ctx.lab().id));
    }
    const std::string hint =
        fmt::format("{}: {} (the handout says what each mode does)", label, what);
    if (model == Model::thread_pool) return thread_pool_evidence(ctx, mode.name, label, hint);
    if (model == Model::event_loop) return event_loop_evidence(ctx, mode.name, label, hint);
    std::string problem;
    std::set<pid_t> workers;
    if (model == Model::process_pool) {
        workers = worker_pool::pool_of(ctx, ctx.lab().workers, label);
    }
    if (poll_until(2s, [&] {
            problem = model == Model::process_pool ? pool_problem(ctx, mode.name, workers)
                                                   : reactor_problem(ctx, mode.name);
            return problem.empty();
        })) {
        if (model == Model::reactor && mode.name == "handoff") require_handoff_spread(ctx, label);
        return;
    }
    ctx.require_running(label);
    fail(fmt::format("{}, idle: {}", label, problem), hint);
}

/// How long each mode's idle server is watched for a thread that wakes up
/// on a timer, and the most wakeups one thread may have in that time: a
/// thread that waits for its work wakes 0 times; one that sleeps a little
/// and looks again (a supervisor that polls for dead workers, a pool
/// thread that tries the lock and sleeps) wakes at every period, twice in
/// 2 s when it is 1 s.
constexpr auto mode_idle_window = 2s;
constexpr std::uint64_t mode_idle_wakeups = 1;
/// The most CPU the idle server may use in that time, as a share of one
/// CPU: a waiting server uses none; one thread spinning uses all of one.
constexpr double mode_idle_cpu = 0.05;

// Fails when a thread of the idle server woke up more than a waiting thread does.
void require_no_timer_loop(Context& ctx, const std::string& label) {
    if (procfs::runs_tsan(ctx.pid())) return;  // ThreadSanitizer's own thread wakes up
    // The evidence's own clients have just closed: their threads settle first.
    std::this_thread::sleep_for(scaled(300ms));
    const auto start = Deadline::Clock::now();
    const auto cpu_before = procfs::tree_cpu_ticks(ctx.pid());
    const auto busiest =
        idle_watch::watch(ctx.pid(), idle_watch::window_for(mode_idle_window, ctx.program()));
    const auto cpu_after = procfs::tree_cpu_ticks(ctx.pid());
    const double wall = seconds_since(start);
    // A thread that spins (sched_yield() in a loop, a busy wait on a flag)
    // never blocks, so it counts no voluntary switch: its CPU time shows it.
    const double cpu = static_cast<double>(procfs::cpu_ticks_between(cpu_before, cpu_after)) /
                       static_cast<double>(procfs::ticks_per_second());
    ctx.log("{}, idle: {:.3f} s of CPU in {:.2f} s", label, cpu, wall);
    if (cpu >= mode_idle_cpu * wall) {
        ctx.require_running(label);
        fail(fmt::format("{}, idle: the server used {:.0f}% of a CPU ({:.2f} s of CPU time in "
                         "{:.2f} s) with no client connected",
                         label, 100 * cpu / wall, cpu, wall),
             fmt::format("{}: a thread or process that waits for its turn spins instead of "
                         "sleeping (a loop around sched_yield(), a try-lock or a flag); wait "
                         "in the call that blocks until the turn comes (the lock, accept, the "
                         "wait of the mode)",
                         label));
    }
    if (const std::string sleeper = idle_watch::sleeping_thread(ctx.pid()); !sleeper.empty()) {
        fail(fmt::format("{}, idle: {}: it waits for time to pass, not for its work", label,
                         sleeper),
             fmt::format("{}: every process and thread waits in a call that returns when its "
                         "work comes (a connection, the lock, a child's exit, the stop "
                         "descriptor); a sleep of any length is a timer loop",
                         label));
    }
    if (busiest.wakeups <= mode_idle_wakeups) return;
    ctx.require_running(label);
    fail(fmt::format("{}, idle: {}; a thread with nothing to do wakes up 0 times", label,
                     idle_watch::describe(busiest, wall)),
         fmt::format("{}: every process and thread waits in a call that returns only when its "
                     "work comes (a connection, the lock, a child's exit, a signal, the stop "
                     "descriptor), with no timeout; never sleep and look again",
                     label));
}

// The descriptors open in @p root's process tree.
std::size_t tree_fd_count(pid_t root) {
    std::size_t n = 0;
    for (const pid_t pid : procfs::process_tree(root)) n += procfs::open_fds(pid).size();
    return n;
}

/// The short connections each mode serves before its descriptors are
/// counted again: a leak of one per connection on a mode's own path (its
/// queue, its hand-over, its worker) shows, in well under a second.
constexpr int mode_short_children = 10;
constexpr int mode_short_per_child = 10;

// Fails unless the server's descriptors are back to their count of before
// 100 short connections, 1.5 s after they ended, 100 others served first
// (fd-leak makes 2100, in one mode only).
void require_no_mode_leak(Context& ctx, const std::string& label) {
    const pid_t top = ctx.pid();
    const std::vector<std::string> args = {"-c",        std::to_string(mode_short_children),
                                           "-t",        std::to_string(mode_short_per_child),
                                           "-b",        "1",
                                           "--timeout", scaled_seconds_arg(5),
                                           "-q"};
    // A first round that is not counted: what a worker opens once, at its
    // first client (the lab library's stop descriptor, a log), is no leak.
    run_client(ctx, args, 30s);
    std::size_t before = tree_fd_count(top);
    int stable = 0;  // the count settles as the last clients' sockets close
    for (const Deadline settle(1500ms); stable < 3 && !settle.expired();) {
        std::this_thread::sleep_for(scaled(50ms));
        const std::size_t again = tree_fd_count(top);
        stable = again == before ? stable + 1 : 0;
        before = again;
    }
    run_client(ctx, args, 30s);
    std::size_t now = 0;
    if (poll_until(1500ms, [&] { return (now = tree_fd_count(top)) <= before; })) return;
    ctx.require_running(label);
    fail(fmt::format("{}: the server (pid {} and its processes) had {} descriptors open before "
                     "{} short connections ({} at a time) and {} 1.5 s after they ended",
                     label, top, before, mode_short_children * mode_short_per_child,
                     mode_short_children, now),
         fmt::format("{}: close each connection's descriptor on every path of this mode (the "
                     "queue, the hand-over, the worker that served it), not only on the "
                     "default mode's",
                     label));
}

// selfpipe, mode @p mode: what the idle program @p pid shows, "" when right.
std::string program_problem(pid_t pid, std::string_view mode) {
    constexpr std::uint64_t usr1 = 1ULL << (SIGUSR1 - 1);
    const auto caught = procfs::signal_mask(pid, "SigCgt:");
    const auto blocked = procfs::signal_mask(pid, "SigBlk:");
    if (!caught || !blocked) return "the program is gone";
    const auto s = procfs::current_syscall(pid);
    if (!s.readable) return s.raw;  // "cannot read /proc/N/syscall": skipped
    const waits::TaskWait w = waits::wait_of(pid, pid);
    const auto fds = procfs::open_fds(pid);
    auto target_of = [&](int fd) {
        for (const auto& f : fds) {
            if (f.fd == fd) return f.target;
        }
        return std::string();
    };
    const std::string seen =
        fmt::format("it waits in {}; SIGUSR1 is {}caught, {}blocked", w.text(),
                    (*caught & usr1) != 0 ? "" : "not ", (*blocked & usr1) != 0 ? "" : "not ");
    // In every mode, idle: a wait with no timeout (one that ends by itself
    // looks again on a timer, however long).
    if (!w.timeout.empty()) return fmt::format("it waits in {} with {}", w.text(), w.timeout);
    if (mode == "signalfd") {
        for (const int fd : w.fds) {
            if (target_of(fd) == "anon_inode:[signalfd]" && (*blocked & usr1) != 0) return "";
        }
        return seen + ", and no signalfd in what it waits on";
    }
    if ((*caught & usr1) == 0) return seen;
    if (mode == "pselect") {
        if (w.call != "pselect6" || s.args.size() < 6 || s.args[5] == 0) {
            return seen + " (no pselect with a signal mask)";
        }
        // The 6th argument points to {const sigset_t* mask; size_t size}.
        const auto pair = procfs::read_memory(pid, s.args[5], 2 * sizeof(std::uint64_t));
        std::uint64_t mask_at = 0;
        if (pair) std::memcpy(&mask_at, pair->data(), sizeof mask_at);
        const auto mask =
            mask_at != 0 ? procfs::read_memory(pid, mask_at, sizeof(std::uint64_t)) : std::nullopt;
        std::uint64_t during = 0;
        if (mask) std::memcpy(&during, mask->data(), sizeof during);
        if (!mask) return seen + " (its pselect's signal mask could not be read)";
        if ((during & usr1) != 0) return seen + ", and its pselect's mask blocks SIGUSR1";
        return "";
    }
    // selfpipe: the read end of a pipe whose write end the program holds too.
    if ((*blocked & usr1) != 0) return seen;
    for (const int fd : w.fds) {
        const std::string t = target_of(fd);
        if (!t.starts_with("pipe:")) continue;
        const auto ends = std::count_if(fds.begin(), fds.end(),
                                        [&](const procfs::FdInfo& f) { return f.target == t; });
        if (ends >= 2) return "";
    }
    return seen + ", and no self-pipe (a pipe it holds both ends of) in what it waits on";
}

// selfpipe, mode pselect: SIGUSR1 blocked outside pselect. Seen in the -w
// window after `ready`, while the program sleeps before its first wait
// (inside pselect the kernel has swapped in pselect's own mask). "" when
// right, or when the program was never seen in its sleep (race-window
// judges -w).
std::string pselect_window_problem(const Context& ctx, const std::vector<std::string>& mode_args) {
    constexpr std::uint64_t usr1 = 1ULL << (SIGUSR1 - 1);
    const auto window = std::chrono::duration_cast<std::chrono::microseconds>(scaled(600ms));
    std::vector<std::string> args = mode_args;
    args.emplace_back("-w");
    args.emplace_back(std::to_string(window.count()));
    ProgramRun run(ctx.program(), args);
    selfpipe::expect_ready(run, "mode pselect with -w");
    std::optional<std::uint64_t> blocked;
    (void)poll_until(500ms, [&] {
        const auto s = procfs::current_syscall(run.pid());
        if (!s.number) return false;
        const std::string call = syscall_name(*s.number);
        if (!waits::is_sleep_call(call)) return false;
        blocked = procfs::signal_mask(run.pid(), "SigBlk:");
        return true;
    });
    if (!blocked || (*blocked & usr1) != 0) return "";
    return fmt::format(
        "`{}`: in its -w window, asleep before its pselect, SIGUSR1 is not "
        "blocked (SigBlk in /proc/{}/status): a signal there runs the handler "
        "before the wait, the race pselect exists to close",
        run.command_line(), run.pid());
}

// selfpipe: each mode, idle after `ready`, shows its evidence, then answers SIGUSR1.
void check_program_modes(Context& ctx) {
    const LabInfo& lab = ctx.lab();
    for (std::size_t i = 0; i < lab.modes.size(); ++i) {
        const LabMode& mode = lab.modes[i];
        const std::string label = mode_label(mode, i == 0);
        const std::string_view what = modes::evidence(Model::none, mode.name);
        if (what.empty()) fail(fmt::format("the grader knows no evidence for {}", label));
        std::vector<std::string> args;
        if (i > 0) {
            for (const auto a : mode.args) args.emplace_back(a);
        }
        ProgramRun run(ctx.program(), args);
        selfpipe::expect_ready(run, label);
        std::string problem;
        (void)poll_until(1s, [&] {
            problem = program_problem(run.pid(), mode.name);
            return problem.empty();
        });
        if (problem.starts_with("cannot read")) skip(problem);
        if (!problem.empty()) {
            fail(fmt::format("{} ({}), idle after `ready`: {}", label, run.command_line(), problem),
                 fmt::format("{}: {} (the handout says what each mode does)", label, what));
        }
        const auto sent = Deadline::Clock::now();
        run.signal(SIGUSR1);
        (void)selfpipe::expect_answer(run, sent, Deadline(selfpipe::give_up_time), label,
                                      "while it waited", selfpipe::give_up_ms());
        if (mode.name == "pselect") {
            if (const std::string p = pselect_window_problem(ctx, args); !p.empty()) {
                fail(fmt::format("{}: {}", label, p),
                     fmt::format("{}: {}; block SIGUSR1 before the loop looks at the flag, so "
                                 "that it can only come in inside pselect",
                                 label, what));
            }
        }
        ctx.log("{}: {}", label, what);
    }
}

// modes: each mode of the server shows its own evidence.
void check_modes(Context& ctx) {
    const LabInfo& lab = ctx.lab();
    if (lab.modes.empty()) fail(fmt::format("the grader has no modes for lab {}", lab.id));
    if (lab.kind == LabKind::program) return check_program_modes(ctx);
    const auto base = ctx.start_args("modes");  // -n, and the default mode: no flag
    for (std::size_t i = 0; i < lab.modes.size(); ++i) {
        const LabMode& mode = lab.modes[i];
        const std::string label = mode_label(mode, i == 0);
        auto args = base;
        if (i > 0) {
            for (const auto a : mode.args) args.emplace_back(a);
        }
        if (!ctx.server().running() || ctx.server().args() != args) {
            const Readiness ready = ctx.server().start(5s, args);
            if (!ready.accepting) {
                fail(fmt::format("in {} the server did not start: {}", label, ready.problem),
                     "write every mode of the handout; each is a way to run the same server");
            }
        }
        require_evidence(ctx, mode, label);
        require_no_mode_leak(ctx, label);
        require_no_timer_loop(ctx, label);
        ctx.log("{}: {}", label, modes::evidence(lab.model, mode.name));
    }
}

}  // namespace

CSD_CHECK(modes) {
    return {
        .id = "modes",
        .points = 20,
        .run = check_modes,
        .summary =
            "started in each of its modes (-m, -e), the server shows that mode's "
            "evidence: what each worker waits in and on which descriptor, the "
            "listening sockets and who holds them, the epoll flags, who serves; after 100 short "
            "connections no more descriptors are open than before; and no thread "
            "of the idle server wakes up more than once in 2 s, nor does it use 5% of a CPU",
        .hint =
            "write every mode the handout asks for: each mode is its own way of "
            "waiting for connections, not a name for the same code",
        .locks = {},
        .lifecycle = Lifecycle::ends_server};
}

}  // namespace csd::grade
