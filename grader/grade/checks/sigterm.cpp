// sigterm: SIGTERM ends the whole server tree, exit status 0, within 2 s,
// even when it comes while new clients keep connecting.
//
// A few short rounds, each on a freshly started server (the first one on the
// server the earlier checks used), each with two idle clients. In a burst
// round a thread of the grader opens new connections, some silent, some
// sending a request; SIGTERM lands in the middle of the burst, right after a
// volley of connections opened at once, and the burst goes on until the
// server is gone.
//
// A forking server (the fork lab) also gets fork-race rounds, every other
// round: a volley of silent connections and no burst; the grader watches
// the server's children (/proc/PID/task/PID/children) and sends SIGTERM the
// moment the k-th new child appears, so that the server is in the middle of
// fork() when it comes and has only a few children to end. A server whose
// child can take the SIGTERM before it reset the parent's signal handlers
// (fork() then reset, instead of csd::fork_child()) loses that SIGTERM there:
// the child serves its silent client for ever and the parent waits for it.
//
// A server with threads to join (thread, prethread, reactor) also gets
// join rounds, every third round: 32 idle clients (a pool: half as many as
// it has threads, the others waiting for a client), and perf recording
// its system calls (close, exit, exit_group and the timed waits: its
// tracepoints, where perf may record) or else strace attached before the
// SIGTERM. perf does not stop the server: one that finds strace by timing
// its calls, and joins only while watched, is seen; and with 32 threads to
// end, threads that only race the main thread's exit lose. A pool's or the
// loops' threads must each end (exit) before the process's exit_group.
// With a thread per connection, at least one per idle client must end (its
// exit) or at least close what it served (a close of its own) before it:
// detached threads that the main thread never waits for die in the middle
// of their work, killed by the exit. Nor may the main thread wait for time
// alone between the SIGTERM and its exit (a sleep, a wait on no descriptor
// with a timeout, a futex wait with one, sched_yield; not in a sanitizer
// build, whose runtime does so at the exit): detached threads and a pause
// long enough for them to finish is a guess, not a join. A server that
// forks (fork, prefork, fdpass) gets reap rounds the same way, every fourth
// round: strace on the top process (wait4, waitid, exit_group) must see it
// reap each child it had at the SIGTERM before its exit_group; children
// left for the sandbox's init to reap were never waited for (not in an
// ASan build: LeakSanitizer refuses to run under ptrace; the init's report
// of orphans, every round, covers it). In rst, the client that never read
// (every other round) must find its connection reset after the exit, and
// no connection of a burst may end with a FIN. Last, a server with threads
// to join gets a held-thread round: one of its threads held stopped by the
// grader (ptrace) at the SIGTERM; the server must wait for it.
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "perf_calls.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "sandbox.hpp"
#include "strace_text.hpp"
#include "thread_hold.hpp"
#include "trace.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// Rounds of the check (one server start each).
constexpr int rounds = 12;
/// Most connections one burst opens (below every lab's caps: 512 children,
/// FD_SETSIZE, the grader's own descriptors).
constexpr std::size_t burst_limit = 300;
/// The pause between two connections of a burst (scaled).
constexpr auto burst_pace = 50us;
/// Connections opened at once right before the SIGTERM.
constexpr std::size_t volley_size = 10;
/// How long the burst runs before SIGTERM, in round r (from 0): (r + 1)
/// times this (scaled), so that the SIGTERM finds the server at different
/// points.
constexpr auto first_kill_delay = 3ms;
/// Silent connections opened at once in a fork-race round.
constexpr std::size_t fork_race_volley = 16;
/// Longest wait for the new children of a fork-race round (scaled); a
/// server that forks elsewhere than on its main thread gets its SIGTERM then.
constexpr auto fork_race_wait = 50ms;
/// Idle clients (each served once) connected at the SIGTERM of a join
/// round: enough that threads which only race the main thread's exit (not
/// joined) still have work left when it comes, and lose.
constexpr int join_round_clients = 32;

/// How a round brings the server to its SIGTERM.
enum class RoundKind {
    burst,      ///< new clients connecting all the while
    fork_race,  ///< SIGTERM as the server forks (a process per connection)
    join,       ///< idle connection threads, strace watching them end (thread per connection)
    reap,       ///< children, strace watching the parent reap them (servers that fork)
};

/// New connections to a port, opened by a thread of its own until stop()
/// or burst_limit: every third one sends a request for 1 byte (never read),
/// the others stay silent. A connection that fails (refused once the
/// server closed its listener, out of descriptors) is expected, not an
/// error. Owns the thread and the connections; used from the thread that
/// made it (the connections are the burst thread's until stop()).
class Burst {
  public:
    explicit Burst(std::uint16_t port) : thread_([this, port] { run(port); }) {}
    ~Burst() { stop(); }
    Burst(const Burst&) = delete;
    Burst& operator=(const Burst&) = delete;

    /// Ends the burst and closes its connections (idempotent); before they
    /// close, @p last_look (when given) sees them.
    void stop(const std::function<void(std::vector<Connection>&)>& last_look = {}) {
        done_.store(true);
        if (thread_.joinable()) thread_.join();
        if (last_look) last_look(connections_);
        connections_.clear();
    }
    /// Connections started so far (any thread).
    [[nodiscard]] std::size_t opened() const noexcept { return opened_.load(); }

  private:
    void run(std::uint16_t port) {
        std::vector<Connection*> to_send;  // requests not sent yet (connect in progress)
        while (!done_.load() && connections_.size() < burst_limit) {
            try {
                connections_.push_back(Connection::begin_open(port));
            } catch (const std::system_error&) {
                break;  // out of descriptors: enough of a burst
            }
            opened_.store(connections_.size());
            if (connections_.size() % 3 == 0) to_send.push_back(&connections_.back());
            // A request goes out once its connect completed; a refused or
            // reset connection drops it.
            std::erase_if(to_send, [](Connection* c) { return c->send_some("1\n") != 0; });
            std::this_thread::sleep_for(scaled(burst_pace));
        }
        while (!done_.load()) std::this_thread::sleep_for(1ms);
    }

    // Reserved up front: to_send keeps pointers into it.
    std::vector<Connection> connections_ = [] {
        std::vector<Connection> v;
        v.reserve(burst_limit);
        return v;
    }();
    std::atomic<bool> done_{false};
    std::atomic<std::size_t> opened_{0};
    std::thread thread_;  // last: starts once the members above exist
};

// "1234 (name, child of 1200, own session)" for each pid still alive.
std::string describe_left(const std::vector<pid_t>& pids, pid_t server) {
    std::string text;
    for (std::size_t i = 0; i < pids.size() && i < 10; ++i) {
        text += i ? ", " : "";
        const auto st = procfs::read_stat(pids[i]);
        if (!st) {
            text += std::to_string(pids[i]);
            continue;
        }
        text += fmt::format("{} ({}", st->pid, st->comm);
        if (st->pgrp != server) text += ", left the server's process group";
        if (st->session == st->pid) text += ", called setsid()";
        text += ")";
    }
    if (pids.size() > 10) text += fmt::format(" and {} more", pids.size() - 10);
    return text;
}

/// Waits until the main thread of @p top has @p target children (or more),
/// polling /proc/PID/task/PID/children without sleeping, at most
/// fork_race_wait; false when the count never got there.
bool wait_for_children(pid_t top, std::size_t target) {
    const Deadline limit(fork_race_wait);
    while (!limit.expired()) {
        const auto count = procfs::main_thread_child_count(top);
        if (!count) return false;
        if (*count >= target) return true;
    }
    return false;
}

/// The threads of @p threads (the server's at its SIGTERM) that neither
/// ended (exit) nor closed a descriptor before the process's exit_group in
/// the traced calls @p calls; nullopt when they show no exit_group (the
/// process did not exit by itself, or strace missed it).
std::optional<std::vector<pid_t>> threads_not_ended(const std::vector<StraceCall>& calls,
                                                    const std::vector<pid_t>& threads,
                                                    bool close_counts) {
    const auto last = std::find_if(calls.begin(), calls.end(),
                                   [](const StraceCall& c) { return c.name == "exit_group"; });
    if (last == calls.end()) return std::nullopt;
    // No prefix: strace traced one thread only by then, the others ended.
    if (last->pid == 0) return std::vector<pid_t>{};
    std::vector<pid_t> running;
    for (const pid_t tid : threads) {
        if (tid == last->pid) continue;
        const bool ended = std::any_of(calls.begin(), last, [&](const StraceCall& c) {
            return c.pid == tid && (c.name == "exit" || (close_counts && c.name == "close"));
        });
        if (!ended) running.push_back(tid);
    }
    return running;
}

/// The threads of @p threads (the server's at its SIGTERM, @p top its main
/// thread) that neither ended (their own exit) nor, with @p close_counts,
/// closed a descriptor before the process's exit_group in the events
/// @p events perf recorded; nullopt when they show no exit_group.
std::optional<std::vector<pid_t>> threads_not_ended(const std::vector<PerfEvent>& events,
                                                    const std::vector<pid_t>& threads, pid_t top,
                                                    bool close_counts) {
    const auto last = std::find_if(events.begin(), events.end(),
                                   [](const PerfEvent& e) { return e.name == "exit_group"; });
    if (last == events.end()) return std::nullopt;
    std::vector<pid_t> running;
    for (const pid_t tid : threads) {
        if (tid == top || tid == last->tid) continue;
        const bool ended = std::any_of(events.begin(), last, [&](const PerfEvent& e) {
            return e.tid == tid && (e.name == "exit" || (close_counts && e.name == "close"));
        });
        if (!ended) running.push_back(tid);
    }
    return running;
}

/// The calls of perf's join rounds that wait for a time: a sleep, a wait
/// on no descriptor with a timeout, or a futex wait with one (what a main
/// thread that guesses how long its threads take uses instead of a join);
/// and sched_yield, a spin.
const std::vector<std::string> perf_timed_waits{
    "nanosleep", "clock_nanosleep", "poll", "ppoll", "select", "pselect6", "futex", "sched_yield"};

/// The event @p e as a wait for a time ("poll(no descriptor, 400 ms)"), or
/// "" when it waits with no timeout (a join's futex wait, a poll with -1),
/// or not at all (a timeout of 0 only looks), or on descriptors: the main
/// thread's own loop, a poll of its listener with a timeout that it enters
/// once more before it sees the stop, is that loop's business (idle-cpu
/// judges timers), not a guess.
std::string timed_wait(const PerfEvent& e) {
    const auto as_int = [&](std::string_view key) {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(e.field(key)));
    };
    if (waits::is_sleep_call(e.name)) return e.name + "()";
    if (e.name == "sched_yield") return "sched_yield() (a spin)";
    if (e.name == "poll" && e.field("nfds") == 0 && as_int("timeout_msecs") > 0) {
        return fmt::format("poll(no descriptor, {} ms)", as_int("timeout_msecs"));
    }
    if (e.name == "ppoll" && e.field("nfds") == 0 && e.field("tsp") != 0) {
        return "ppoll(no descriptor, with a timeout)";
    }
    if ((e.name == "select" || e.name == "pselect6") && e.field("n") == 0 &&
        e.field(e.name == "select" ? "tvp" : "tsp") != 0) {
        return fmt::format("{}(no descriptor, with a timeout)", e.name);
    }
    // FUTEX_WAIT (0) or FUTEX_WAIT_BITSET (9), private or not, with a time:
    // a condition variable's wait_for, not a join.
    const std::uint64_t op = e.field("op") & 0x7f;
    if (e.name == "futex" && (op == 0 || op == 9) && e.field("utime") != 0) {
        return "futex(a wait with a timeout: a condition variable's wait_for)";
    }
    return {};
}

/// The sleeps and timed waits of the main thread @p top before the
/// process's exit_group in the events @p events perf recorded.
std::vector<std::string> main_thread_sleeps(const std::vector<PerfEvent>& events, pid_t top) {
    std::vector<std::pair<std::string, int>> seen;  // each kind once, with its count
    for (const PerfEvent& e : events) {
        if (e.name == "exit_group") break;
        if (e.tid != top) continue;
        std::string wait = timed_wait(e);
        if (wait.empty()) continue;
        const auto it =
            std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == wait; });
        if (it != seen.end()) {
            ++it->second;
        } else {
            seen.emplace_back(std::move(wait), 1);
        }
    }
    std::vector<std::string> sleeps;
    for (const auto& [wait, n] : seen) {
        sleeps.push_back(n == 1 ? wait : fmt::format("{} x{}", wait, n));
    }
    return sleeps;
}

/// What was seen of the threads' end in a join round: who saw it ("strace",
/// "perf"), the threads not ended before the exit_group (nullopt: no
/// exit_group seen), and the main thread's sleeps before it.
struct JoinSeen {
    std::string by;
    std::optional<std::vector<pid_t>> running;
    std::vector<std::string> sleeps;
};

/// The sleeps (nanosleep, clock_nanosleep, as strace printed them) of the
/// server's main thread @p top before its exit_group, in the traced calls
/// @p calls: at the stop, a main thread that sleeps guesses how long its
/// threads take instead of waiting for them.
std::vector<std::string> main_thread_sleeps(const std::vector<StraceCall>& calls, pid_t top) {
    std::vector<std::string> sleeps;
    for (const StraceCall& c : calls) {
        if (c.pid != 0 && c.pid != top) continue;
        if (c.name == "exit_group") break;
        if (waits::is_sleep_call(c.name)) {
            sleeps.push_back(fmt::format("{}({})", c.name, c.args));
        }
    }
    return sleeps;
}

/// The children in @p children (pids as the server sees them) that the
/// server's top process @p top (host pid) did not reap (wait4, waitid)
/// before its exit_group in the traced calls @p calls; nullopt when they
/// show no exit_group of it.
std::optional<std::vector<pid_t>> children_not_reaped(const std::vector<StraceCall>& calls,
                                                      const std::vector<pid_t>& children,
                                                      pid_t top) {
    // No prefix: strace traced one process only (the top one: the others
    // existed before it attached).
    const auto by_top = [&](const StraceCall& c) { return c.pid == 0 || c.pid == top; };
    const auto last = std::find_if(calls.begin(), calls.end(), [&](const StraceCall& c) {
        return by_top(c) && c.name == "exit_group";
    });
    if (last == calls.end()) return std::nullopt;
    std::set<long long> reaped;
    for (auto c = calls.begin(); c != last; ++c) {
        if (!by_top(*c) || !c->succeeded()) continue;
        if (c->name == "wait4" && *c->value > 0) reaped.insert(*c->value);
        if (c->name == "waitid") {
            // waitid(P_PID, 12, {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=12, ...}, ...)
            const auto at = c->args.find("si_pid=");
            if (at != std::string::npos) reaped.insert(std::atoll(c->args.c_str() + at + 7));
        }
    }
    std::vector<pid_t> left;
    for (const pid_t child : children) {
        if (!reaped.contains(child)) left.push_back(child);
    }
    return left;
}

/// The children of @p top right now, as pids of the server's own (its PID
/// namespace's, as wait4() returns them).
std::vector<pid_t> children_of(pid_t top) {
    std::vector<pid_t> own;
    for (const auto& st : procfs::descendants(top)) {
        if (st.ppid != top) continue;
        if (const auto seen = procfs::own_pid(st.pid)) own.push_back(*seen);
    }
    return own;
}

/// Attaches strace to the server for @p calls, until it exits, into
/// @p trace; false (@p trace empty, and a log line saying that @p what is
/// not checked) when it cannot: no strace, or an ASan build, whose
/// LeakSanitizer exits with status 1 when traced at its exit.
bool trace_to_exit(Context& ctx, int round, const std::string& calls, std::string_view what,
                   std::optional<Strace>& trace) {
    if (built_with_sanitizer(ctx.program()) && !procfs::runs_tsan(ctx.pid())) {
        ctx.log(
            "round {}: {} not checked (a sanitizer build: LeakSanitizer does not run under "
            "strace)",
            round + 1, what);
        return false;
    }
    trace.emplace(ctx.pid(), calls);
    if (trace->attached()) return true;
    ctx.log("round {}: {} not checked: {}", round + 1, what, trace->why_not());
    trace.reset();
    return false;
}

/// rst: the client of @p unread, which never read its reply, must find the
/// connection reset once the server stopped (its reply bytes, then
/// ECONNRESET), not ended with a FIN: the lab ends every connection with an
/// RST, the one in progress at the stop too (and a FIN would leave a socket
/// in TIME_WAIT). Read to the end, within 2 s (scaled).
void require_reset_at_stop(Connection& unread, std::string_view when) {
    const Deadline limit(2s);
    std::uint64_t bytes = 0;
    char buf[16384];
    for (;;) {
        const ReadResult r = unread.read_some(buf, sizeof buf, limit);
        if (r.status == ReadStatus::data) {
            bytes += r.bytes;
            continue;
        }
        if (r.status == ReadStatus::reset) return;
        fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but the client "
                         "that never read its reply, reading it now, got {} bytes and then {}, "
                         "not a reset: the connection in progress at the stop was not closed "
                         "with an RST",
                         when, bytes,
                         r.status == ReadStatus::eof       ? "the end of the stream (a FIN)"
                         : r.status == ReadStatus::timeout ? "nothing for 2 s"
                                                           : "an error"),
             "at the stop, close the connection you are serving the way this lab closes every "
             "connection (SO_LINGER {1, 0}): the stop ends the wait for the send queue, not the "
             "rule. A process that just exits closes its sockets with a FIN");
    }
}

/// rst: how many of @p conns end with a FIN (the end of the stream) once the
/// server exited, read to their end within @p limit. Each one was served
/// and reset before the SIGTERM, or was being served at it, or waited in
/// the listen queue (reset by the kernel as the listener closed), or never
/// connected: none of them may have been closed with a FIN.
std::size_t ended_with_fin(std::vector<Connection>& conns, Deadline limit) {
    std::size_t fins = 0;
    char buf[16384];
    for (Connection& c : conns) {
        if (c.fd() < 0) continue;
        for (;;) {
            const ReadResult r = c.read_some(buf, sizeof buf, limit);
            if (r.status == ReadStatus::data) continue;
            // The end of the stream on a socket in CLOSE_WAIT: the server's
            // FIN. (One whose connect failed, the error already taken by a
            // send, reads an end too, in state CLOSE.)
            tcp_info info{};
            socklen_t len = sizeof info;
            if (r.status == ReadStatus::eof &&
                ::getsockopt(c.fd(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
                info.tcpi_state == TCP_CLOSE_WAIT) {
                ++fins;
            }
            break;
        }
    }
    return fins;
}

/// One round: idle clients, then a burst with SIGTERM in the middle of it,
/// a volley with SIGTERM as its k-th connection is forked (fork race), or
/// idle connection threads watched by perf or strace (join).
void sigterm_round(Context& ctx, int round, RoundKind kind, std::string_view in_mode) {
    // Idle clients, served once so that a forking server has children now
    // (an iterative server serves only the first one; the others wait).
    // A pool's join round holds half its threads with idle clients: the
    // others wait for a client the mode's way (the queue, the lock, the
    // listener), and that wait, too, must see the stop.
    const int idle_clients = kind != RoundKind::join ? 2
                             : ctx.lab().model == Model::thread_pool && ctx.lab().workers > 0
                                 ? std::clamp(ctx.lab().workers / 2, 1, join_round_clients)
                                 : join_round_clients;
    std::vector<Connection> idle;
    for (int i = 1; i <= idle_clients; ++i) {
        const std::string what = fmt::format("idle client {} of {}", i, idle_clients);
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        idle.back().send_all(request_line(1), Deadline(3s), what);
        if (i == 1 || ctx.lab().model != Model::single_process) {
            expect_reply(ctx.reply(), idle.back(), 1, Deadline(3s), what);
        }
    }
    // Every other round: a client that never reads its reply, so that the
    // SIGTERM finds the server (or the worker that serves it) waiting for
    // room to write 64 MiB, or, in rst, waiting for a send queue that never
    // empties (16000 bytes are all written). Those waits, too, end at a stop.
    std::optional<Connection> unread;
    if (round % 2 == 1) {
        const std::uint64_t asked = ends_with_reset(ctx.lab()) ? 16000 : (64ULL << 20);
        unread.emplace(Connection::open(ctx.port(), Deadline(3s), Window::narrow));
        unread->send_all(request_line(asked), Deadline(3s), "a client that never reads");
    }
    const pid_t top = ctx.pid();
    const bool tsan = procfs::runs_tsan(top);
    std::optional<Burst> burst;
    std::vector<Connection> volley;
    std::optional<Strace> trace;
    std::optional<PerfCalls> perf;  // join: perf recording, where it can
    std::vector<pid_t> threads;     // join: the server's threads at the SIGTERM
    std::vector<pid_t> children;    // reap: its children at the SIGTERM (its own pids)
    std::string trigger;
    if (kind == RoundKind::fork_race) {
        const std::size_t k = 1 + static_cast<std::size_t>(round / 2) % 4;
        const std::size_t base = procfs::main_thread_child_count(top).value_or(0);
        for (std::size_t i = 0; i < fork_race_volley; ++i) {
            volley.push_back(Connection::begin_open(ctx.port()));
        }
        trigger = wait_for_children(top, base + k)
                      ? fmt::format("as the server forked child {} for the volley", k)
                      : "with no new child seen";
    } else if (kind == RoundKind::reap) {
        if (trace_to_exit(ctx, round, "wait4,waitid,exit_group", "how the children are reaped",
                          trace)) {
            children = children_of(top);
            trigger = fmt::format("with strace watching it reap its {} children", children.size());
        }
    } else if (kind == RoundKind::join) {
        std::vector<std::string> calls{"close", "exit", "exit_group"};
        calls.insert(calls.end(), perf_timed_waits.begin(), perf_timed_waits.end());
        perf.emplace(top, calls);
        if (perf->attached()) {
            threads = procfs::thread_ids(top);
            trigger = fmt::format("with perf recording how its {} threads end", threads.size());
        } else {
            ctx.log("round {}: perf cannot record the threads' end ({}): strace instead", round + 1,
                    perf->why_not());
            perf.reset();
            if (trace_to_exit(ctx, round, "close,exit,exit_group,nanosleep,clock_nanosleep",
                              "how the threads end", trace)) {
                threads = procfs::thread_ids(top);
                trigger = fmt::format("with strace watching its {} threads", threads.size());
            }
        }
    } else {
        burst.emplace(ctx.port());
        std::this_thread::sleep_for(scaled(first_kill_delay * (round + 1)));
        // A volley right before the SIGTERM: the server is surely accepting
        // (a forking one: forking) when it comes.
        for (std::size_t i = 0; i < volley_size; ++i) {
            volley.push_back(Connection::begin_open(ctx.port()));
        }
    }
    const auto opened = [&] { return (burst ? burst->opened() : 0) + volley.size(); };
    const std::size_t before = opened();
    ::kill(top, SIGTERM);
    ctx.log("round {}: SIGTERM to pid {} {}({} idle clients, {} new connections so far)", round + 1,
            top, trigger.empty() ? "" : trigger + " ", idle_clients, before);

    const Deadline two_seconds(2s);
    std::optional<int> status;
    std::vector<pid_t> left;
    for (;;) {
        status = child_status(top);
        reap_children();
        left = live_descendants_of_grader();
        if ((status && left.empty()) || two_seconds.expired()) break;
        std::this_thread::sleep_for(10ms);
    }
    // rst: the connections of the burst and the volley, none ended by a FIN.
    std::size_t fins = 0;
    const bool resets = ends_with_reset(ctx.lab()) && status;
    if (resets) fins += ended_with_fin(volley, Deadline(1s));
    if (burst) {
        burst->stop([&](std::vector<Connection>& conns) {
            if (resets) fins += ended_with_fin(conns, Deadline(1s));
        });
    }
    const std::size_t total = opened();
    std::string when;
    switch (kind) {
        case RoundKind::fork_race:
            when = fmt::format(
                "round {} of {}{}: SIGTERM came {}, {} silent connections opened at once, with 2 "
                "idle clients connected",
                round + 1, rounds, in_mode, trigger, total);
            break;
        case RoundKind::join:
        case RoundKind::reap:
            when = fmt::format("round {} of {}{}: SIGTERM came with {} idle clients connected",
                               round + 1, rounds, in_mode, idle_clients);
            break;
        case RoundKind::burst:
            when = fmt::format(
                "round {} of {}{}: SIGTERM came during a burst of {} new connections ({} before "
                "it, {} after; some idle, some sending a request), with 2 idle clients "
                "connected",
                round + 1, rounds, in_mode, total, before, total - before);
            break;
    }
    if (unread) {
        when += ends_with_reset(ctx.lab())
                    ? ", and one client that never read its 16000 bytes (the server waiting "
                      "for its send queue to empty)"
                    : ", and one client that asked for 64 MiB and never read them (the server "
                      "waiting for room to write its reply)";
    }
    if (!status) {
        fail(
            fmt::format("the server (pid {}) was still running 2 s after SIGTERM ({})", top, when));
    }
    if (!left.empty()) {
        fail(fmt::format(
            "the server {} after SIGTERM, but 2 s later {} of its processes still "
            "ran: {} ({})",
            describe_wait_status(*status), left.size(), describe_left(left, top), when));
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        fail(fmt::format("the server {} after SIGTERM ({}); expected exit status 0",
                         describe_wait_status(*status), when));
    }
    if (unread && ends_with_reset(ctx.lab())) require_reset_at_stop(*unread, when);
    if (fins > 0) {
        fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but {} of the "
                         "connections of the burst ended with a FIN (the end of the stream), "
                         "not a reset: a connection being served at the stop (its request "
                         "still being read, or its reply) was closed like any socket",
                         when, fins),
             "at the stop, close the connection you are serving the way this lab closes every "
             "connection (SO_LINGER {1, 0}), whatever step it is in; the connections still in "
             "the listen queue are reset by the kernel when the listener closes");
    }
    // In every round, untraced: the children the server never reaped went
    // to the sandbox's init when it exited (process.hpp, orphans_at_exit()).
    if (const auto orphans = orphans_at_exit(top);
        orphans && (orphans->reaped > 0 || orphans->running)) {
        fail(fmt::format(
                 "the server exited with status 0 after SIGTERM ({}), but left {}{} to "
                 "the sandbox's init: it did not wait for them (waitpid) before it "
                 "exited",
                 when,
                 orphans->reaped > 0 ? fmt::format("{} ended child{} never reaped", orphans->reaped,
                                                   orphans->reaped == 1 ? "" : "ren")
                                     : std::string(),
                 orphans->running
                     ? std::string(orphans->reaped > 0 ? " and " : "") + "children still running"
                     : std::string()),
             "at the stop, signal every child and then wait for each one (waitpid) before "
             "the parent exits: a child that is only signalled may still run, and nobody "
             "collects its status");
    }
    // What strace saw, parsed once for the rules below.
    const std::vector<StraceCall> traced =
        trace ? parse_strace(trace->finish()) : std::vector<StraceCall>{};
    const bool per_connection = ctx.lab().model == Model::thread_per_connection;
    std::optional<JoinSeen> join;
    if (perf) {
        if (const auto events = perf->finish()) {
            join = JoinSeen{"perf", threads_not_ended(*events, threads, top, per_connection),
                            main_thread_sleeps(*events, top)};
            std::map<std::string, int> counts;
            for (const PerfEvent& e : *events) {
                if (e.name == "exit_group") break;
                if (e.tid == top) ++counts[e.name];
            }
            std::string calls;
            for (const auto& [name, n] : counts) {
                calls += fmt::format("{}{} x{}", calls.empty() ? "" : ", ", name, n);
            }
            ctx.log("round {}: the main thread's calls before exit_group (perf): {}", round + 1,
                    calls.empty() ? "none" : calls);
        } else {
            ctx.log("round {}: how the threads ended not checked: {}", round + 1, perf->why_not());
        }
    } else if (trace && kind == RoundKind::join) {
        join = JoinSeen{"strace", threads_not_ended(traced, threads, per_connection),
                        main_thread_sleeps(traced, top)};
    }
    if (trace && kind == RoundKind::reap) {
        const auto left_unreaped = children_not_reaped(traced, children, top);
        if (!left_unreaped) {
            ctx.log("round {}: strace saw no exit_group: how the children were reaped not checked",
                    round + 1);
        } else if (!left_unreaped->empty()) {
            fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but it had not "
                             "reaped {} of its {} children (pids {} as it sees them) when it "
                             "called exit_group: strace saw no wait4() or waitid() return them, "
                             "so they were left for the sandbox's init to reap",
                             when, left_unreaped->size(), children.size(),
                             fmt::join(*left_unreaped, ", ")),
                 "at the stop, signal every child and then wait for each one (waitpid) before "
                 "the parent exits: a child that is only signalled may still run, and nobody "
                 "collects its status");
        } else {
            ctx.log("round {}: every child reaped before the exit", round + 1);
        }
    } else if (join && !per_connection) {
        // A pool or the loops: each thread ends (exit) before the process
        // does, joined by the main thread; not under ThreadSanitizer, whose
        // own thread ends with the process.
        const auto& running = join->running;
        if (!running) {
            ctx.log("round {}: {} saw no exit_group: how the threads ended not checked", round + 1,
                    join->by);
        } else if (!running->empty() && !tsan) {
            fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but {} of its "
                             "{} threads at the SIGTERM had not ended (exit) when the process "
                             "called exit_group: {} saw tids {} still there, so the exit "
                             "killed them wherever they were",
                             when, running->size(), threads.size(), join->by,
                             fmt::join(*running, ", ")),
                 "at the stop, every thread must see it (the stop descriptor in what it waits "
                 "on, or a queue closed with a notify_all) and return, and the main thread "
                 "joins each one before main returns; exiting with threads still running is "
                 "not a stop");
        } else {
            ctx.log("round {}: every thread ended before the exit", round + 1);
        }
    } else if (join) {
        const auto& running = join->running;
        // The threads that ended: at least one per idle client. (The
        // runtime's own threads, such as ThreadSanitizer's or the library's
        // csd-signals under it, end with the process.) A thread that closed
        // its client counts too: detached threads that count themselves out
        // once done, and a main thread that waits for the count, are a join.
        const auto ended =
            running ? static_cast<int>(threads.size()) - 1 - static_cast<int>(running->size()) : 0;
        if (!running) {
            ctx.log("round {}: {} saw no exit_group: how the threads ended not checked", round + 1,
                    join->by);
        } else if (ended < idle_clients) {
            fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but of its {} "
                             "threads at the SIGTERM only {} ended (exit) or closed their "
                             "client before the process called exit_group, for {} idle "
                             "clients; {} saw tids {} do neither, so the exit killed them in "
                             "the middle of their work",
                             when, threads.size(), ended, idle_clients, join->by,
                             fmt::join(*running, ", ")),
                 "at the stop, wait for every connection thread before main returns: each one "
                 "sees the stop descriptor, closes its client and ends, and the main thread "
                 "joins it. A detached thread cannot be waited for, so the process's exit "
                 "kills it wherever it is");
        } else {
            ctx.log("round {}: every thread ended or closed its client before the exit", round + 1);
        }
    }
    // Not in a sanitizer build: ThreadSanitizer's runtime sleeps in the
    // main thread at the exit (atexit_sleep_ms), and LeakSanitizer's check
    // at the exit yields in it while its tracer looks at the threads
    // (sched_yield, thousands of times with 32 of them).
    if (join && !tsan && !built_with_sanitizer(ctx.program())) {
        const auto& sleeps = join->sleeps;
        if (!sleeps.empty()) {
            fail(fmt::format("the server exited with status 0 after SIGTERM ({}), but between "
                             "the SIGTERM and its exit its main thread slept, spun or waited for "
                             "a time ({}): a wait of a guessed length, or a look again and "
                             "again, not a wait for its threads",
                             when, fmt::join(sleeps, ", ")),
                 "at the stop, the main thread waits for the threads themselves: it joins each "
                 "one (or waits on a condition variable that the last one to end signals). A "
                 "sleep ends whether they are done or not, and waits even when they are");
        }
    }
}

// reactor: the main thread alone takes SIGTERM and SIGINT; every other
// thread (the loops, an acceptor) has both blocked (SigBlk of
// /proc/PID/task/TID/status), so no loop's epoll_wait() is interrupted and
// the stop comes to each loop through the stop descriptor.
void require_loops_block_stop_signals(Context& ctx) {
    constexpr std::uint64_t stop_signals = (1ULL << (SIGTERM - 1)) | (1ULL << (SIGINT - 1));
    const pid_t pid = ctx.pid();
    std::string open;
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (tid == pid || procfs::is_io_worker(pid, tid)) continue;
        if (procfs::thread_name(pid, tid) == "csd-signals") continue;  // TSan builds
        const auto blocked = procfs::task_signal_mask(pid, tid, "SigBlk:");
        if (!blocked || (*blocked & stop_signals) == stop_signals) continue;
        open += fmt::format("{}thread {} (\"{}\", SigBlk {:016x})", open.empty() ? "" : ", ", tid,
                            procfs::thread_name(pid, tid), *blocked);
    }
    if (open.empty()) {
        ctx.log("every thread but the main one blocks SIGTERM and SIGINT");
        return;
    }
    fail(fmt::format("idle, before the first SIGTERM: {} of the server (pid {}) do{} not block "
                     "SIGTERM and SIGINT (/proc/{}/task/TID/status); the main thread alone "
                     "should take them",
                     open, pid, open.find(", ") == std::string::npos ? "es" : "", pid),
         "start the loops with SIGTERM and SIGINT blocked (a thread inherits the mask of the "
         "thread that creates it: block them around the threads' creation, pthread_sigmask(3)), "
         "so the signals go to the main thread, whose handler makes the stop descriptor "
         "readable for every loop");
}

/// The designs whose threads the main thread must end and join at the stop.
bool joins_threads(Model model) {
    return model == Model::thread_per_connection || model == Model::thread_pool ||
           model == Model::reactor;
}

/// How long a held thread is kept stopped after the SIGTERM (scaled).
constexpr auto hold_time = 500ms;

// The held round, last, on a fresh server with two idle clients: one of its
// threads (the newest but the main one: a connection's thread, or a pool's
// or the loops' last) held stopped by the grader (thread_hold.hpp), then
// SIGTERM. A main thread that waits for its threads (a join, or a count the
// last one signals) is still waiting hold_time later; one that returns
// without waiting exits, and that exit kills the held thread. Released, the
// thread sees the stop and the server exits within 2 s. Unlike the join
// rounds it does not depend on a race: the held thread cannot end before
// the exit. Not in a sanitizer build (their runtimes trace the threads
// themselves at the exit), nor where ptrace is refused.
void require_waits_for_held_thread(Context& ctx) {
    if (built_with_sanitizer(ctx.program())) return;
    const Readiness ready = ctx.server().start(5s, ctx.server().args());
    if (!ready.accepting) fail("the held-thread round: the server did not start: " + ready.problem);
    const pid_t top = ctx.pid();
    std::vector<Connection> idle;
    for (int i = 1; i <= 2; ++i) {
        const std::string what = fmt::format("the held-thread round, idle client {} of 2", i);
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        idle.back().send_all(request_line(1), Deadline(3s), what);
        expect_reply(ctx.reply(), idle.back(), 1, Deadline(3s), what);
    }
    pid_t chosen = 0;
    for (const pid_t tid : procfs::thread_ids(top)) {
        if (tid == top || procfs::is_io_worker(top, tid)) continue;
        if (procfs::thread_name(top, tid) == "csd-signals") continue;
        chosen = std::max(chosen, tid);
    }
    if (chosen == 0) return;  // no thread to hold: architecture says so
    ThreadHold hold(top, chosen);
    if (!hold.held()) {
        ctx.log("the held-thread round not run: {}", hold.why_not());
        return;
    }
    const std::string name = procfs::thread_name(top, chosen);
    ::kill(top, SIGTERM);
    const Deadline holding(scaled(hold_time));
    while (!holding.expired() && hold.fate() == ThreadHold::Fate::held) {
        std::this_thread::sleep_for(2ms);
    }
    if (hold.fate() == ThreadHold::Fate::ended) {
        (void)wait_child(top, Deadline(2s));
        reap_children();
        fail(fmt::format("with 2 idle clients connected, the grader held thread {} (\"{}\") of "
                         "the server stopped (ptrace) and sent SIGTERM: the server exited "
                         "without waiting for it, and its exit killed that thread wherever it "
                         "was (a thread that had not ended)",
                         chosen, name),
             "at the stop, the main thread waits for every thread it started: it joins each "
             "one (or waits on a condition variable that the last one to end signals), however "
             "long they take to see the stop; a detached thread that nobody waits for is "
             "killed by the process's exit in the middle of its work");
    }
    hold.release();
    const auto status = wait_child(top, Deadline(2s));
    if (!status) {
        fail(fmt::format("the held-thread round: thread {} (\"{}\") held stopped by the grader "
                         "for {:.0f} ms after SIGTERM, then let go: the server was still running "
                         "2 s later",
                         chosen, name, scaled_seconds(hold_time) * 1000),
             "a thread that sees the stop late (here, held by the grader) must still see it: "
             "the stop descriptor stays readable, and the main thread's join waits for it");
    }
    reap_children();
    ctx.log(
        "held-thread round: thread {} (\"{}\") held {:.0f} ms after SIGTERM; the server "
        "waited for it, then exited",
        chosen, name, scaled_seconds(hold_time) * 1000);
}

// sigterm: SIGTERM ends the whole tree with status 0 within 2 s.
void check_sigterm(Context& ctx) {
    if (ctx.lab().model == Model::reactor) require_loops_block_stop_signals(ctx);
    // A server with modes (labs/labs.txt) is stopped in each of them:
    // every way of waiting must see the stop. Not prefork's reuseport: its
    // idle clients may hash to the same busy worker and wait (the handout
    // says why), which is not what this check is about.
    std::vector<const LabMode*> modes;
    for (const auto& mode : ctx.lab().modes) {
        if (ctx.lab().model == Model::process_pool && mode.name == "reuseport") continue;
        modes.push_back(&mode);
    }
    const bool rotate = modes.size() > 1 && ctx.lab().kind == LabKind::server;
    std::string in_mode;
    for (int round = 0; round < rounds; ++round) {
        if (round > 0) {
            const auto base = rotate ? ctx.start_args("sigterm") : ctx.server().args();
            auto args = base;
            if (rotate) {
                // Every mode gets rounds, and the join rounds (every third)
                // fall in different modes: with 2 modes, 3 rounds each in
                // turn; with more, round r runs in mode (r + r / 3) % n.
                const auto r = static_cast<std::size_t>(round);
                const std::size_t m = modes.size() == 2 ? (r / 3) % 2 : (r + r / 3) % modes.size();
                if (modes[m] != &ctx.lab().modes.front()) {
                    for (const auto a : modes[m]->args) args.emplace_back(a);
                }
                in_mode = fmt::format(", in mode {}", modes[m]->name);
            }
            Readiness again = ctx.server().start(5s, args);
            if (!again.accepting && !in_mode.empty() && args != base) {
                // A mode not written yet: its own checks (modes...) say so;
                // this round runs in the default mode instead.
                ctx.log("round {}{}: the server did not start ({}); the default mode instead",
                        round + 1, in_mode, again.problem);
                in_mode.clear();
                again = ctx.server().start(5s, base);
            }
            if (!again.accepting) {
                fail(
                    fmt::format("round {} of {}{}: the server did not start again after the "
                                "previous round's SIGTERM: {}",
                                round + 1, rounds, in_mode, again.problem));
            }
        }
        const Model model = ctx.lab().model;
        const bool forks = model == Model::process_per_connection || model == Model::process_pool ||
                           model == Model::descriptor_passing;
        const RoundKind kind = model == Model::process_per_connection && round % 2 == 0
                                   ? RoundKind::fork_race
                               : forks && round % 4 == 3                ? RoundKind::reap
                               : joins_threads(model) && round % 3 == 1 ? RoundKind::join
                                                                        : RoundKind::burst;
        sigterm_round(ctx, round, kind, in_mode);
    }
    if (joins_threads(ctx.lab().model)) require_waits_for_held_thread(ctx);
}

}  // namespace

CSD_CHECK(sigterm) {
    return {"sigterm",
            10,
            check_sigterm,
            "SIGTERM ends the whole server (children too) with exit status 0 within 2 s, even "
            "while clients keep connecting",
            "on SIGTERM: stop accepting, close the listening socket, close your clients (and, if "
            "you forked, end and reap your children), then return 0 from main, all within 2 s. A "
            "handler should only set a "
            "flag or write to a self-pipe; EINTR from a blocking call means 'check the flag'",
            {},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
