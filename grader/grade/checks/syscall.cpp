// syscall: with many idle clients, the server sleeps in the lab's multiplexing
// call, waiting on the listener and every client, and does not wake up.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "net.hpp"
#include "procfs.hpp"
#include "strace_text.hpp"
#include "syscalls.hpp"
#include "timing.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// Idle clients held open while the server is watched.
constexpr int idle_clients = 200;
/// More wakeups than this per second, idle, is a sleep loop (a timeout under 50 ms).
constexpr double max_wakeups_per_second = 20;

std::string accepted_calls(const LabInfo& lab) {
    std::string text;
    for (const auto call : lab.wait_calls) text += (text.empty() ? "" : " or ") + std::string(call);
    return text;
}

// The server's descriptors for the listening socket and for the idle clients.
struct Watched {
    int listener = -1;         // -1: not found
    std::vector<int> clients;  // one per idle client the server holds
};

Watched find_descriptors(pid_t pid, std::uint16_t port, const std::vector<Connection>& clients) {
    std::map<std::uint64_t, int> fd_of_inode;
    for (const auto& fd : procfs::open_fds(pid)) {
        if (const auto inode = procfs::socket_inode(fd.target)) fd_of_inode[*inode] = fd.fd;
    }
    std::set<std::uint16_t> ports;
    for (const auto& c : clients) ports.insert(c.local_port());
    Watched w;
    for (const auto& s : procfs::tcp_sockets()) {
        if (s.local_port != port || s.inode == 0) continue;
        const auto it = fd_of_inode.find(s.inode);
        if (it == fd_of_inode.end()) continue;
        if (s.state == procfs::tcp_listen) {
            w.listener = it->second;
        } else if (s.state == procfs::tcp_established && ports.contains(s.remote_port)) {
            // Established only: a socket of an earlier check that the server
            // has not closed yet is not one of these clients.
            w.clients.push_back(it->second);
        }
    }
    return w;
}

// Opens the idle clients (1 in 4 sends half a request) and waits until the
// server holds every one of them.
Watched hold_idle_clients(Context& ctx, std::vector<Connection>& clients) {
    const Deadline overall(20s);
    for (int i = 0; i < idle_clients; ++i) {
        clients.push_back(Connection::open(ctx.port(), overall.within(3s)));
        if (i % 4 == 1) clients.back().send_all("40", overall.within(3s), "half a request");
    }
    const Deadline held(3s);
    Watched w = find_descriptors(ctx.pid(), ctx.port(), clients);
    while (w.clients.size() < clients.size() && !held.expired()) {
        std::this_thread::sleep_for(scaled(50ms));
        w = find_descriptors(ctx.pid(), ctx.port(), clients);
    }
    if (w.clients.size() < clients.size()) {
        ctx.require_running(fmt::format("with {} idle clients", idle_clients));
        fail(fmt::format("3 s after {} clients connected (and stayed idle), the server (pid {}) "
                         "held the sockets of only {} of them (seen in /proc/{}/fd and "
                         "/proc/net/tcp)",
                         idle_clients, ctx.pid(), w.clients.size(), ctx.pid()),
             "accept every waiting client (accept until it would block) and keep its socket "
             "open, and watched for reading, for as long as the client is connected");
    }
    return w;
}

// What is wrong with the arguments of the wait call @p s, or "" when nothing.
std::string wrong_arguments(Context& ctx, const std::string& name, const procfs::SyscallSample& s,
                            const Watched& w, std::string& hint) {
    if (s.args.size() < 2) return "";  // the kernel did not say
    const int top_client = *std::max_element(w.clients.begin(), w.clients.end());
    if (name == "select" || name == "pselect6") {
        const std::uint64_t nfds = s.args[0];
        hint =
            "select()'s first argument is the highest descriptor of your sets plus one: put the "
            "listening socket and every client that wants input in the read set, and sleep in "
            "select() on them, not in a select() with no descriptors used as a sleep";
        if (nfds <= static_cast<std::uint64_t>(w.listener)) {
            return fmt::format("nfds = {} does not reach the listening socket (fd {})", nfds,
                               w.listener);
        }
        if (nfds <= static_cast<std::uint64_t>(top_client)) {
            return fmt::format(
                "{}(nfds = {}) cannot watch the idle clients (their descriptors go "
                "up to fd {})",
                name, nfds, top_client);
        }
        return "";
    }
    if (name == "poll" || name == "ppoll") {
        const std::uint64_t nfds = s.args[1];
        hint =
            "give poll() one pollfd per client that wants input, plus the listening socket, and "
            "sleep in poll() on them, not in a poll() on an empty or shorter array";
        if (nfds < static_cast<std::uint64_t>(idle_clients)) {
            return fmt::format("{}(nfds = {}) cannot watch {} idle clients", name, nfds,
                               idle_clients);
        }
        return "";
    }
    if (name.starts_with("epoll")) {
        const int epfd = static_cast<int>(s.args[0]);
        const auto targets = procfs::epoll_targets(ctx.pid(), epfd);
        if (!targets) return "";  // gone meanwhile
        hint =
            "add the listening socket and every client to the epoll instance you wait on "
            "(epoll_ctl(EPOLL_CTL_ADD)) and keep them there while they are connected; an empty "
            "epoll set waited on with a timeout is a sleep";
        const std::set<int> in(targets->begin(), targets->end());
        const auto missing = static_cast<std::size_t>(std::count_if(
            w.clients.begin(), w.clients.end(), [&](int fd) { return !in.contains(fd); }));
        if (!in.contains(w.listener) || missing > 0) {
            return fmt::format(
                "{}() waits on epoll fd {}, whose interest list (/proc/{}/fdinfo/{}) "
                "holds {} descriptors: the listening socket (fd {}) {}, and {} of "
                "the {} idle clients are missing",
                name, epfd, ctx.pid(), epfd, in.size(), w.listener,
                in.contains(w.listener) ? "is there" : "is not", missing, w.clients.size());
        }
        return "";
    }
    return "";
}

// The timeout the call was made with, when it is an argument (not a pointer).
std::string timeout_text(const std::string& name, const procfs::SyscallSample& s) {
    std::size_t index = 0;
    if (name == "poll") index = 2;
    if (name == "epoll_wait" || name == "epoll_pwait") index = 3;
    if (index == 0 || s.args.size() <= index) return "";
    const auto ms = static_cast<std::int32_t>(static_cast<std::uint32_t>(s.args[index]));
    return ms < 0 ? " (timeout: none)" : fmt::format(" (timeout: {} ms)", ms);
}

// An epoll server, woken while it holds many idle clients, makes no poll
// or select call: one that waits in epoll_wait and then polls every client
// (epoll as a doorbell) pays O(n) per wakeup again, the cost epoll exists
// to remove. Seen with strace while one more client is served; where
// strace cannot attach, logged and left out.
void require_no_scan_after_wakeup(Context& ctx) {
    Strace trace(ctx.pid(), std::string("poll,ppoll,select,pselect6") + tracer_probe_calls);
    if (!trace.attached()) {
        ctx.log("calls after a wakeup not checked: {}", trace.why_not());
        return;
    }
    try {
        for (int i = 1; i <= 3; ++i) {
            const std::string what = fmt::format("client {} of 3 beside the idle ones", i);
            Connection conn = Connection::open(ctx.port(), Deadline(3s));
            conn.send_all(request_line(4000), Deadline(3s), what);
            expect_reply(ctx.reply(), conn, 4000, Deadline(3s), what);
        }
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    int scans = 0;
    std::string first;
    for (const StraceCall& c : parse_strace(text)) {
        if (is_tracer_probe_call(c.name)) continue;  // require_no_tracer_probe() judged them
        if (++scans == 1) first = fmt::format("{}({})", c.name, c.args.substr(0, 140));
    }
    ctx.log("poll or select calls while 3 clients were served beside the idle ones: {}", scans);
    if (scans > 0) {
        fail(fmt::format("with {} idle clients connected, the server made {} poll or select "
                         "call{} while 3 more clients were served (strace; the first: {}): it "
                         "looks at its descriptors again after epoll_wait, O(n) per wakeup",
                         idle_clients, scans, scans == 1 ? "" : "s", first),
             "act on what epoll_wait returned and nothing else: its events say which "
             "connections are ready; a poll or select over every client after each wakeup is "
             "the cost epoll removes");
    }
}

// syscall: idle, the thread is blocked in the lab's multiplexing call.
void check_syscall(Context& ctx) {
    const LabInfo& lab = ctx.lab();
    std::vector<Connection> clients;
    const Watched watched = hold_idle_clients(ctx, clients);
    if (watched.listener < 0) {
        ctx.require_running("with idle clients");
        fail(fmt::format("the server (pid {}) holds no socket listening on port {}", ctx.pid(),
                         ctx.port()));
    }
    std::this_thread::sleep_for(scaled(200ms));  // let the server go idle

    const auto start = Deadline::Clock::now();
    const auto switches_before = procfs::voluntary_switches(ctx.pid());
    constexpr int samples = 7;
    int in_call = 0;
    std::map<std::string, int> seen;
    std::string call;            // the wait call last seen
    procfs::SyscallSample last;  // ...and its arguments
    for (int i = 0; i < samples; ++i) {
        if (i > 0) std::this_thread::sleep_for(scaled(50ms));
        const auto s = procfs::current_syscall(ctx.pid());
        if (!s.readable) {
            ctx.require_running("while idle");
            skip(
                fmt::format("{} (the grader needs to read it for its own child process; "
                            "this is a limit of where the grader runs, not of your server)",
                            s.raw));
        }
        const std::string name = s.running  ? "running (not in a system call)"
                                 : s.number ? syscall_name(*s.number)
                                            : "not in a system call";
        ++seen[name];
        if (std::find(lab.wait_calls.begin(), lab.wait_calls.end(), name) != lab.wait_calls.end()) {
            ++in_call;
            call = name;
            last = s;
        }
    }
    std::this_thread::sleep_for(start + scaled(1s) - Deadline::Clock::now());
    const auto switches_after = procfs::voluntary_switches(ctx.pid());
    const double wall = seconds_since(start);

    if (in_call * 2 <= samples) {
        std::string what;
        for (const auto& [name, count] : seen) {
            what += fmt::format("{}{} ({}x)", what.empty() ? "" : ", ", name, count);
        }
        fail(fmt::format("with {} idle clients, the server (pid {}) was in {} in only {} of {} "
                         "samples of /proc/{}/syscall over 300 ms; it was in: {}",
                         idle_clients, ctx.pid(), accepted_calls(lab), in_call, samples, ctx.pid(),
                         what),
             fmt::format("when there is nothing to do, block in {}() on all your descriptors "
                         "(the listening socket too), not in accept(), read(), a sleep or a "
                         "loop with a zero timeout",
                         lab.wait_calls.front()));
    }
    std::string hint;
    if (const std::string wrong = wrong_arguments(ctx, call, last, watched, hint); !wrong.empty()) {
        fail(fmt::format("with {} idle clients, the server (pid {}) sleeps in {}(), but {} "
                         "(/proc/{}/syscall: {})",
                         idle_clients, ctx.pid(), call, wrong, ctx.pid(), last.raw),
             hint);
    }
    if (!switches_before || !switches_after) ctx.require_running("while idle");
    if (switches_before && switches_after) {
        const auto wakeups = *switches_after - *switches_before;
        const double rate = static_cast<double>(wakeups) / wall;
        ctx.log("idle: {} wakeups in {:.2f} s{}", wakeups, wall, timeout_text(call, last));
        if (rate > max_wakeups_per_second) {
            fail(fmt::format("with {} idle clients, the server (pid {}) went to sleep {} times in "
                             "{:.2f} s ({:.0f} wakeups per second, voluntary_ctxt_switches in "
                             "/proc/{}/task/*/status) in {}{}: nothing happened that needed it",
                             idle_clients, ctx.pid(), wakeups, wall, rate, ctx.pid(), call,
                             timeout_text(call, last)),
                 fmt::format("block in {}() until something happens: no timeout, or a long one "
                             "(a second or more); a short timeout turns the wait into a sleep "
                             "loop",
                             lab.wait_calls.front()));
        }
    }
    if (lab.needs_eventpoll) {
        const auto fds = procfs::open_fds(ctx.pid());
        const bool has_epoll = std::any_of(fds.begin(), fds.end(), [](const procfs::FdInfo& fd) {
            return fd.target == "anon_inode:[eventpoll]";
        });
        if (!has_epoll) {
            fail(fmt::format("the server (pid {}) holds no epoll descriptor "
                             "(anon_inode:[eventpoll]) among its {} descriptors",
                             ctx.pid(), fds.size()),
                 "create one epoll instance with epoll_create1(EPOLL_CLOEXEC) and wait in "
                 "epoll_wait()");
        }
        require_no_scan_after_wakeup(ctx);
    }
}

}  // namespace

CSD_CHECK(syscall) {
    return {
        "syscall",
        5,
        check_syscall,
        "200 idle clients: the server sleeps in the lab's call, on all of them, and stays asleep",
        "when there is nothing to do, block in the lab's call (select, poll or epoll_wait), "
        "not in accept(), read() or a sleep",
        {"cpu"}};
}

}  // namespace csd::grade
