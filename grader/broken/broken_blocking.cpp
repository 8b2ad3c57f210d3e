// A blocking lab server (fork per client, iterative, or a thread per client)
// that is correct except for the one bug named by the program's name
// (broken-BUG, see broken_bug.hpp). grader/broken/CMakeLists.txt builds this
// file once, links broken-<bug> to it for each bug and checks that csd-grade
// fails exactly the check that bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: no-reap fork zombies control pipeline
//   The parent's copy of the socket also keeps every connection open after the
//   child is done, so bytes (which waits for the close) fails too: split is the control.
// test: parent-keeps-socket fork fd-leak control split
// test: one-request fork pipeline control bytes
// test: partial-line fork split control pipeline
// test: accepts-sign fork malformed control pipeline
// test: ignores-sigterm fork sigterm control pipeline
// test: orphans fork sigterm control pipeline
// test: kills-no-wait fork sigterm control pipeline
//   The same, but it waits whenever a tracer seems attached (timed getppid(),
//   no /proc probe), so that strace never sees it (the fourth red-team of
//   issue 20: full marks in prefork and fdpass). The sandbox's init tells.
// test: kills-no-wait-hides fork sigterm control pipeline
// test: plain-fork fork sigterm control pipeline
// test: iterative fork concurrency control pipeline
// test: child-keeps-listener fork architecture control pipeline
// test: silent fork start control pipeline
//   Not listening within 5 s: no other check can run, so no control.
// test: slow-start fork start
// test: drops-every-50th fork load control pipeline
//   A crash or SIGPIPE kills a whole server only when it serves in its one process.
// test: crash iterative malformed control pipeline
// test: sigpipe iterative reset control pipeline
// test: forks iterative architecture control pipeline
// test: threads select architecture control pipeline
//   Servers that got full marks before the checks became stricter (issue 7):
//   each breaks one rule that no check could see then.
// test: sigpipe-drop iterative reset control pipeline
// test: skips-empty-lines fork malformed control pipeline
// test: long-lines fork malformed control pipeline
// test: many-cr fork malformed control pipeline
// test: wraps-at-16m fork bytes control pipeline
// test: thread-leak thread architecture control pipeline
// test: joins-blocked thread sigterm control pipeline
//   Its threads are joined at the stop only: each ended thread keeps its
//   stack until then (the eighth red-team's thread-nojoin: 144/148).
// test: joins-blocked thread architecture control pipeline
//   Reads that see the stop, writes that do not: only a client that never
//   reads its reply holds a thread at the SIGTERM.
// test: joins-blocked-write thread sigterm control pipeline
// test: detached thread sigterm control pipeline
//   Detached threads that see the stop, and a 150 ms sleep in main instead
//   of waiting for them (issue 20: full marks).
// test: detached-sleeps thread sigterm control pipeline
//   The same guess as a poll() on no descriptor, not a sleep call (the
//   fifth red-team of issue 20: full marks). Caught where perf can record.
// test: detached-poll-sleeps thread sigterm control pipeline
//   Threads that see the stop, and a main thread that waits for them only
//   while strace seems attached; otherwise its exit races theirs (a
//   red-team's cheat had full marks). Caught where perf can record.
// test: races-exit-unwatched thread sigterm control pipeline
//   Detached threads that see the stop at once, and a main thread that
//   returns without waiting: the join rounds' race is lost only some of the
//   time (the seventh red-team's thread-detach had full marks); the
//   held-thread round always sees it.
// test: detached-quick thread sigterm control pipeline
//   Out of descriptors, accepts again at once (the eighth red-team's
//   thread-emfspin: full marks, the thread lab had no emfile check).
// test: thread-emfile-spin thread emfile control pipeline
//   Everything the client sent read before each reply (the seventh
//   red-team's cork-slurp: full marks while no client read slowly).
// test: drains-before-reply fork back-pressure control pipeline
//   Waiting by polling (issue 20: these had full marks): each wakes on a timer.
// test: thread-wakes-100ms thread idle-cpu control pipeline
//   A slower timer loop (red-team, issue 20: a 600 ms poll had full marks).
// test: thread-wakes-600ms thread idle-cpu control pipeline
//   The slowest timer that still stops within 2 s (red-team, issue 20: a
//   1.6 s poll had full marks).
// test: thread-wakes-1900ms thread idle-cpu control pipeline
//   Every 4.6 s: longer than idle-cpu's window, seen in the wait's own
//   timeout (the fifth red-team of issue 20: full marks).
// test: thread-wakes-4600ms thread idle-cpu control pipeline
//   No cap: a flood of clients gets a thread each. A cap that closes the
//   clients beyond it instead of letting them wait. (Both serve a thread per
//   client otherwise, so architecture passes.)
// test: threads thread cap control architecture
// test: cap-closes thread cap control architecture
//   Accepting beyond the cap into a queue of its own (the second red-team of
//   issue 20: full marks).
// test: cap-parks thread cap control architecture
//   The same clients parked in flight, inside a UNIX socket (SCM_RIGHTS), out
//   of the server's descriptor table (the third red-team of issue 20).
// test: cap-parks-in-flight thread cap control architecture
//   At the cap, the accepting loop spins (sched_yield()) until a thread
//   ends, instead of waiting (the fourth red-team of issue 20: full marks).
// test: cap-spins thread cap control architecture
//   Other designs lose the architecture check: a child per client, one event loop.
// test: forks thread architecture control pipeline
//   A thread per client is no pool; nor are a child per client or one event loop.
// test: threads prethread architecture control pipeline
// test: forks prethread architecture control pipeline
//   A thread per client, and one epoll loop on one thread (the epoll lab's
//   solution, given the reactor's command line without -n and -m), are not
//   reactors.
// test: threads reactor architecture control pipeline
//   Decoy connection threads: one thread reads and writes for all (the
//   second red-team of issue 20: full marks).
// test: thread-decoy thread architecture control pipeline
//   The same decoy, hidden: it serves honestly whenever a tracer seems to be
//   attached (timed system calls, no /proc probe), so only the untraced
//   wakeup count sees it (the third red-team of issue 20: full marks).
// test: thread-decoy-hides thread architecture control pipeline
//   The same hidden decoy whose I/O thread also wakes every 5 ms, idle or
//   not, so that the requests' wakeups look like its own timer's (the
//   fourth red-team of issue 20: it lost idle-cpu only): the untraced
//   look at who waits to write each stuck reply sees it.
// test: thread-decoy-timer thread architecture control pipeline
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"
#include "fd_passing.hpp"

namespace {

/// The one thing this server gets wrong, set first thing in main().
std::string_view bug;

// The bugs, each with the check that must catch it:
//   no-reap               never waitpid()s its children: zombies pile up        -> zombies
//   parent-keeps-socket   parent never closes the connected sockets             -> fd-leak
//   one-request           closes the connection after the first reply           -> pipeline
//   wraps-at-16m          starts the alphabet again every 16 MiB of a reply     -> bytes
//   whole-mib-only        sends a reply over 1 MiB in whole 1 MiB blocks and
//                         drops the rest (every public size over 1 MiB is a
//                         multiple of it)                                      -> bytes-hidden
//   partial-line          takes the end of each read() as a whole line          -> split
//   crash                 abort()s the (iterative) server on a malformed line   -> malformed
//   accepts-sign          answers "-5" with 5 bytes instead of closing          -> malformed
//   sigpipe               keeps SIGPIPE fatal: the (iterative) server dies      -> reset
//   sigpipe-drop          the same, but drops a client at its first failed
//                         write, as the solution does (no second write)         -> reset
//   skips-empty-lines     ignores empty request lines instead of closing        -> malformed
//   long-lines            skips leading zeros, then takes up to 32 more bytes   -> malformed
//   many-cr               strips every '\r' before the '\n', not only one        -> malformed
//   ignores-sigterm       SIG_IGN for SIGTERM: runs on after it                 -> sigterm
//   orphans               on SIGTERM exits without ending its children          -> sigterm
//   kills-no-wait         on SIGTERM signals its children and exits without
//                         waiting for them (the sandbox's init reaps them)     -> sigterm
//   kills-no-wait-hides   the same unless broken::tracer_by_timing() says a
//                         tracer watches: it reaps them then                 -> sigterm
//   plain-fork            fork() and then csd::reset_signals_in_child() in the
//                         child, not csd::fork_child(): a SIGTERM from the
//                         parent that reaches a new child before its reset runs
//                         the parent's handler and is forgotten; the child serves
//                         its idle client for ever, the parent waits for it    -> sigterm
//   iterative             serves one client at a time (graded as fork)          -> concurrency
//   child-keeps-listener  the child never closes the listening socket           -> architecture
//   silent                never prints the `Listening on` line                  -> start
//   slow-start            listens only after 6 s                                -> start
//   drops-every-50th      closes every 50th connection without a reply          -> load
//   forks                 a correct fork server (graded as iterative)           -> architecture
//   threads               a thread per client (graded as select)                -> architecture
//                         and no cap: a flood of clients gets a thread each
//                         (graded as thread)                                    -> cap
//   thread-leak           a thread per client that stays after its client left
//                         (waits for the stop instead of ending)                -> architecture
//   joins-blocked-write   a joined thread per client that waits for input
//                         together with the stop, but writes its reply with
//                         plain blocking write()s: a client that never reads
//                         holds the join at the stop                          -> sigterm
//   joins-blocked         a joined thread per client, blocked in plain read():
//                         an idle client's thread never sees the stop           -> sigterm
//                         and joined only at the stop: the ended threads'
//                         stacks stay mapped until then               -> architecture
//   detached              a detached thread per client, blocked in plain read();
//                         main returns at the stop without waiting for them:
//                         exit status 0 in time, but the exit kills them     -> sigterm
//   detached-sleeps       a detached thread per client that sees the stop and
//                         closes its client; main sleeps 150 ms at the stop
//                         instead of waiting for them: a guess, not a join   -> sigterm
//   races-exit-unwatched  counted-detached, but main waits for the count only
//                         while a tracer seems attached at the stop (told by
//                         timing, broken::tracer_by_timing()); otherwise it
//                         returns at once and its exit races the threads'
//                         own ends: the threads still closing die (perf's
//                         join rounds see them)                             -> sigterm
//   detached-poll-sleeps  the same, the 150 ms in poll() on no descriptor   -> sigterm
//   drains-before-reply   reads everything the client has sent so far before
//                         each reply: a client that reads slowly while it
//                         pipelines has its requests held by the server -> back-pressure
//   detached-quick        a detached thread per client that sees the stop and
//                         closes its client; main returns at the stop without
//                         waiting: the threads often end first       -> sigterm
//   counted-detached      no bug: a correct variant of the thread lab's stop, a
//                         detached thread per client that closes its client and
//                         then counts itself out; main waits for the count to
//                         reach 0 (a mutex and a condition variable) before it
//                         returns (variant.thread.sigterm)                   -> none
//   shared-buffer         a thread per client, all sharing one static line
//                         buffer: requests mix up under load                    -> load
//   thread-wakes-100ms    a thread per client that waits for its client in
//                         poll() with a 100 ms timeout, to look at the stop
//                         flag in between: a timer loop                          -> idle-cpu
//   thread-wakes-600ms, thread-wakes-1900ms, thread-wakes-4600ms  the same
//                         every 600 ms, every 1.9 s, every 4.6 s
//                         (still in time for the 2 s stop)                       -> idle-cpu
//   cap-closes            a thread per client up to 256, and the clients
//                         beyond that cap are accepted and closed at once
//                         instead of waiting in the listen queue                -> cap
//   cap-parks             a thread per client up to 256; the clients beyond are
//                         accepted all the same and parked in a queue until a
//                         thread is free, instead of waiting in the listen queue -> cap
//   cap-parks-in-flight   the same, each parked client sent with SCM_RIGHTS into a
//                         UNIX socket pair of the server's own and its descriptor
//                         closed: it has no descriptor while it waits      -> cap
//   cap-spins             a thread per client up to 256; at the cap the main
//                         thread yields and looks again until one ends: the
//                         clients wait in the listen queue, but it burns a CPU -> cap
//   thread-decoy          a thread per client that only waits for its socket's
//                         input and hands it to one I/O thread, which reads and
//                         writes every connection                               -> architecture
//   thread-decoy-hides    the same, except while a tracer seems attached (timed
//                         getppid()), when each thread serves its own client    -> architecture
//   thread-decoy-timer    thread-decoy-hides whose I/O thread also wakes every
//                         5 ms, idle or not                                     -> architecture
//   thread-emfile-spin    a thread per client; out of descriptors, the main
//                         thread waits for the listener and accepts again at
//                         once: a spin while the clients wait          -> emfile
//   thread-logger         no bug: a thread per client, plus an access-log thread
//                         that each request wakes (it reads and writes no
//                         connection): architecture must pass it             -> none
//   time-scale-blind      no bug as long as csd-grade keeps its time scale to
//                         itself: a fork server that refuses to start (status 3)
//                         when CSD_TIME_SCALE is in its environment, since a server
//                         that read it could stretch a polling timer to fit the
//                         checks' watch windows (grader.time-scale-unset)       -> none

enum class Design { fork, iterative, thread };

/// True for the bugs whose detached threads count themselves out.
bool counts_threads() {
    return bug == "counted-detached" || bug == "races-exit-unwatched";
}

/// The design of the server with this bug.
Design design() {
    return bug == "iterative" || bug == "crash" || bug == "sigpipe" || bug == "sigpipe-drop"
               ? Design::iterative
           : bug == "threads" || bug == "thread-leak" || bug.starts_with("joins-blocked") ||
                   bug.starts_with("detached") || counts_threads() || bug == "shared-buffer" ||
                   bug == "cap-closes" || bug == "cap-spins" || bug.starts_with("thread-wakes-") ||
                   bug.starts_with("thread-decoy") || bug.starts_with("cap-parks") ||
                   bug == "thread-logger" || bug == "thread-emfile-spin"
               ? Design::thread
               : Design::fork;
}

/// Every reply starts at the start of this: the alphabet, about 64 KiB of it.
const std::string& pattern() {
    static const std::string bytes = [] {
        std::string s(26 * 2521, 'a');
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = csd::reply_byte(i);
        return s;
    }();
    return bytes;
}

/// Writes the @p n bytes of one reply with plain write(); false when the
/// client is gone (or a stop was requested) and the reply was abandoned.
bool send_reply(int fd, std::uint64_t n) {
    const std::string_view all = pattern();
    std::uint64_t sent = 0;
    while (sent < n) {
        std::size_t len =
            static_cast<std::size_t>(std::min<std::uint64_t>(n - sent, all.size() - 26));
        std::uint64_t offset = sent;
        if (bug == "wraps-at-16m") {
            constexpr std::uint64_t wrap = 16 << 20;
            offset = sent % wrap;
            len = static_cast<std::size_t>(std::min<std::uint64_t>(len, wrap - offset));
        }
        const ssize_t w = ::write(fd, all.data() + offset % 26, len);
        if (w < 0 && errno == EINTR && !csd::stop_requested()) continue;
        if (w < 0) return false;
        sent += static_cast<std::uint64_t>(w);
    }
    return true;
}

/// csd::parse_request(), or the lenient parser of one of the malformed bugs.
std::uint64_t parse(std::string_view line) {
    if (bug == "long-lines") {
        while (line.size() > 1 && line.front() == '0') line.remove_prefix(1);
    } else if (bug == "many-cr") {
        while (line.size() > 1 && line.ends_with("\r\r")) line.remove_suffix(1);
    }
    return csd::parse_request(line);
}

/// Answers one request line; false when the connection must be closed now.
/// thread-logger: an access log written by a thread of its own, one line
/// per request, handed over by the connection threads. Any thread.
struct AccessLog {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::string> lines;

    /// Queues @p line for the log thread.
    void add(std::string line) {
        {
            const std::scoped_lock lock(mutex);
            lines.push_back(std::move(line));
        }
        changed.notify_one();
    }

    /// The log thread's loop (it ends with the process).
    [[noreturn]] void run() {
        for (;;) {
            std::unique_lock lock(mutex);
            changed.wait(lock, [this] { return !lines.empty(); });
            const std::string line = std::move(lines.front());
            lines.pop_front();
            lock.unlock();
            std::cerr << line << '\n';
        }
    }
};

/// The access log of thread-logger, started at its first use; null otherwise.
AccessLog* access_log() {
    static AccessLog* log = [] {
        if (bug != "thread-logger") return static_cast<AccessLog*>(nullptr);
        auto* l = new AccessLog;  // lives as long as the process
        std::thread([l] { l->run(); }).detach();
        return l;
    }();
    return log;
}

bool answer(int fd, std::string_view line) {
    if (AccessLog* log = access_log()) log->add("request: " + std::string(line));
    if (bug == "skips-empty-lines") {
        if (line.empty() || line == "\r") return true;
    }
    std::uint64_t n = parse(line);
    if (bug == "accepts-sign") {
        if (n == 0 && line.starts_with('-')) n = csd::parse_request(line.substr(1));
    }
    if (n == 0) {
        if (bug == "crash") std::abort();
        return false;  // malformed: close without a reply
    }
    if (bug == "whole-mib-only") {
        constexpr std::uint64_t block = 1 << 20;
        if (n > block) n -= n % block;
    }
    // A failed write abandons this reply only; the next read() sees the client gone.
    if (!send_reply(fd, n) && bug == "sigpipe-drop") return false;
    return bug != "one-request";
}

/// Reads once from the blocking socket @p fd and answers every whole line
/// of what came, keeping a partial one in @p line; false when the client is
/// done (EOF, reset, a malformed line, a stop).
/// Bug drains-before-reply: serves the lines of @p data, reading everything
/// the client has sent so far before each reply (into @p pending, which
/// grows as fast as the client sends). False when the client is gone.
bool serve_draining(int fd, std::string_view data, std::string& line) {
    static thread_local std::string pending;
    static thread_local std::size_t at = 0;  // pending's first unread byte
    pending.append(data);
    char more[65536];
    for (;;) {
        for (ssize_t n = 0; (n = ::recv(fd, more, sizeof more, MSG_DONTWAIT)) > 0;) {
            pending.append(more, static_cast<std::size_t>(n));
        }
        const auto nl = pending.find('\n', at);
        if (nl == std::string::npos) break;
        line.append(pending, at, nl - at);
        at = nl + 1;
        if (!answer(fd, line)) return false;
        line.clear();
    }
    line.append(pending, at);
    pending.clear();
    at = 0;
    return line.size() <= csd::max_line_bytes;
}

bool serve_some(int fd, std::string& line) {
    char buf[4096];
    ssize_t got = 0;
    do {
        got = ::read(fd, buf, sizeof buf);
    } while (got < 0 && errno == EINTR && !csd::stop_requested());
    if (got <= 0) return false;  // EOF, reset, or a stop
    std::string_view data(buf, static_cast<std::size_t>(got));
    if (bug == "drains-before-reply") return serve_draining(fd, data, line);
    for (auto nl = data.find('\n'); nl != std::string_view::npos; nl = data.find('\n')) {
        line.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        if (!answer(fd, line)) return false;
        line.clear();
    }
    line.append(data);
    if (bug == "partial-line") {
        if (!line.empty() && !answer(fd, line)) return false;
        line.clear();
    }
    return line.size() <= csd::max_line_bytes;  // too long: malformed
}

/// thread-decoy: the one thread that reads and writes every connection.
/// The connection threads only wait until their socket has input, hand it
/// over and wait for the answer. Any thread, under mutex.
struct DecoyIo {
    /// One socket with input, and where its partial line is kept.
    struct Job {
        int fd = -1;
        std::string* line = nullptr;
        bool done = false;
        bool more = false;  ///< serve_some()'s result
    };
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Job*> queue;

    /// Has the I/O thread serve what @p fd has now; serve_some()'s result.
    bool serve(int fd, std::string& line) {
        Job job{.fd = fd, .line = &line};
        std::unique_lock lock(mutex);
        queue.push_back(&job);
        changed.notify_all();
        changed.wait(lock, [&] { return job.done; });
        return job.more;
    }

    /// The I/O thread's loop (never returns: it ends with the process).
    [[noreturn]] void run() {
        for (;;) {
            std::unique_lock lock(mutex);
            if (bug == "thread-decoy-timer") {  // wakes every 5 ms, idle or not
                while (queue.empty()) changed.wait_for(lock, std::chrono::milliseconds(5));
            } else {
                changed.wait(lock, [&] { return !queue.empty(); });
            }
            Job* job = queue.front();
            queue.erase(queue.begin());
            lock.unlock();
            const bool more = serve_some(job->fd, *job->line);
            lock.lock();
            job->more = more;
            job->done = true;
            changed.notify_all();
        }
    }
};

/// Serves the protocol on the blocking socket @p fd until the client is done.
void serve(int fd) {
    // shared-buffer: one line buffer for every thread (a data race).
    static std::string shared_line;
    std::string own_line;
    std::string& line = bug == "shared-buffer" ? shared_line : own_line;
    static DecoyIo* decoy = [] {
        if (!bug.starts_with("thread-decoy")) return static_cast<DecoyIo*>(nullptr);
        auto* io = new DecoyIo;  // lives as long as the process
        std::thread([io] { io->run(); }).detach();
        return io;
    }();
    for (;;) {
        if (bug == "joins-blocked-write" && csd::wait_readable(fd) == csd::Wakeup::signal &&
            csd::stop_requested()) {
            return;
        }
        if (bug.starts_with("thread-wakes-") || decoy != nullptr) {
            pollfd p{fd, POLLIN, 0};
            const int period = bug == "thread-wakes-100ms"    ? 100
                               : bug == "thread-wakes-600ms"  ? 600
                               : bug == "thread-wakes-4600ms" ? 4600
                               : decoy != nullptr             ? -1
                                                              : 1900;
            int ready = 0;
            while ((ready = ::poll(&p, 1, period)) <= 0) {
                if (csd::stop_requested()) return;
            }
        }
        const bool hides = bug == "thread-decoy-hides" || bug == "thread-decoy-timer";
        const bool hand_over = decoy != nullptr && !(hides && broken::tracer_by_timing());
        if (!(hand_over ? decoy->serve(fd, line) : serve_some(fd, line))) return;
    }
}

/// Reaps every child that has ended (never called by the no-reap server).
[[maybe_unused]] void reap(std::set<pid_t>& children) {
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, nullptr, WNOHANG)) > 0) children.erase(pid);
}

/// One child process per connection; on SIGTERM ends and reaps them all.
void serve_forking(csd::Fd& listener) {
    std::set<pid_t> children;
    std::vector<csd::Fd> kept;  // parent-keeps-socket only
    unsigned accepted = 0;
    for (;;) {
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) {
            if (bug != "no-reap") reap(children);
            if (csd::stop_requested()) break;
            continue;
        }
        csd::Fd conn = csd::accept_connection(listener.get()).connection;
        if (!conn) continue;
        if (bug == "drops-every-50th") {
            if (++accepted % 50 == 0) continue;  // conn closes here, unanswered
        }
        const pid_t pid = csd::check(bug == "plain-fork" ? ::fork() : csd::fork_child(), "fork");
        if (pid == 0) {
            if (bug == "plain-fork") csd::reset_signals_in_child();  // too late
            if (bug != "child-keeps-listener") listener.reset();
            serve(conn.get());
            ::_exit(0);
        }
        children.insert(pid);
        if (bug == "parent-keeps-socket") kept.push_back(std::move(conn));
    }
    if (bug == "orphans") return;
    for (const pid_t pid : children) ::kill(pid, SIGTERM);
    if (bug == "kills-no-wait") return;
    if (bug == "kills-no-wait-hides" && !broken::tracer_by_timing()) {
        // Long enough for the children to end (zombies), never reaped.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return;
    }
    for (const pid_t pid : children) ::waitpid(pid, nullptr, 0);
}

/// One client after the other, in this process.
void serve_iteratively(const csd::Fd& listener) {
    while (!csd::stop_requested()) {
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        if (csd::Fd conn = csd::accept_connection(listener.get()).connection) serve(conn.get());
    }
}

/// Connection threads still running (counted-detached): the main thread
/// waits for running to be 0 before it returns. Any thread, under mutex.
struct Running {
    std::mutex mutex;
    std::condition_variable none_left;
    int running = 0;
};

/// Where cap-parks keeps the clients beyond its cap: a queue of
/// descriptors, or (cap-parks-in-flight) a UNIX socket pair that holds
/// them in flight (SCM_RIGHTS), counted. Any thread, under its mutex.
class Parking {
  public:
    /// Keeps @p conn for later.
    void park(csd::Fd conn) {
        if (bug != "cap-parks-in-flight") {
            queue_.push_back(std::move(conn));
            return;
        }
        if (!pair_[0]) {
            int ends[2];
            csd::check(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ends), "socketpair");
            pair_[0] = csd::Fd(ends[0]);
            pair_[1] = csd::Fd(ends[1]);
        }
        if (broken::send_fd(pair_[0].get(), conn.get())) ++in_flight_;
    }  // conn closes here: the copy in flight keeps the client

    /// The client parked first, if any.
    std::optional<csd::Fd> unpark() {
        if (bug != "cap-parks-in-flight") {
            if (queue_.empty()) return std::nullopt;
            csd::Fd fd = std::move(queue_.front());
            queue_.pop_front();
            return fd;
        }
        if (in_flight_ == 0) return std::nullopt;
        const int fd = broken::recv_fd(pair_[1].get());
        if (fd < 0) return std::nullopt;
        --in_flight_;
        return csd::Fd(fd);
    }

  private:
    std::deque<csd::Fd> queue_;
    csd::Fd pair_[2];
    int in_flight_ = 0;
};

/// A detached thread per client; they end with the process (joins-blocked:
/// joined threads, all joined after the loop; counted-detached: detached
/// threads that main waits for with a count).
void serve_threaded(const csd::Fd& listener) {
    std::vector<std::thread> joined;   // joins-blocked(-write) only
    static std::atomic<int> alive{0};  // cap-closes, cap-spins: connection threads running
    static Running counted;            // counted-detached only
    static std::mutex parked_mutex;    // cap-parks(-in-flight) only: guards parked, serving
    static Parking parked;
    static int serving = 0;
    while (!csd::stop_requested()) {
        if (bug == "cap-spins") {  // the bug: no wait for a thread's end
            while (alive.load() >= 256 && !csd::stop_requested()) std::this_thread::yield();
        }
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        csd::Accepted accepted = csd::accept_connection(listener.get());
        if (accepted.status == csd::AcceptStatus::out_of_descriptors &&
            bug != "thread-emfile-spin") {  // the bug: at once again, a spin
            (void)csd::wait_for_stop(std::chrono::milliseconds(100));
            continue;
        }
        if (csd::Fd conn = std::move(accepted.connection)) {
            if (bug == "cap-spins") alive.fetch_add(1);
            if (bug == "cap-closes") {
                if (alive.load() >= 256) continue;  // conn closes here, unanswered
                alive.fetch_add(1);
            }
            if (bug.starts_with("cap-parks")) {
                const std::scoped_lock lock(parked_mutex);
                if (serving >= 256) {  // accepted all the same, parked for later
                    parked.park(std::move(conn));
                    continue;
                }
                ++serving;
            }
            if (counts_threads()) {
                const std::scoped_lock lock(counted.mutex);
                ++counted.running;
            }
            std::thread thread([c = std::move(conn)]() mutable {
                if (counts_threads() || (bug.starts_with("detached-") && bug.ends_with("sleeps")) ||
                    bug == "detached-quick") {
                    (void)csd::serve_connection(c.get());  // sees the stop descriptor
                } else {
                    serve(c.get());
                }
                c.reset();
                while (bug.starts_with("cap-parks")) {  // the next parked client, if any
                    std::unique_lock lock(parked_mutex);
                    std::optional<csd::Fd> next = parked.unpark();
                    if (!next) {
                        --serving;
                        break;
                    }
                    c = std::move(*next);
                    lock.unlock();
                    serve(c.get());
                    c.reset();
                }
                if (bug == "cap-closes" || bug == "cap-spins") alive.fetch_sub(1);
                if (counts_threads()) {
                    const std::scoped_lock lock(counted.mutex);
                    if (--counted.running == 0) counted.none_left.notify_all();
                }
                if (bug == "thread-leak") {
                    while (!csd::wait_for_stop(std::chrono::seconds(1))) {
                    }
                }
            });
            if (bug.starts_with("joins-blocked")) {
                joined.emplace_back(std::move(thread));
            } else {
                thread.detach();
            }
        }
    }
    for (std::thread& t : joined) t.join();
    if (bug == "detached-sleeps") std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (bug == "detached-poll-sleeps") (void)::poll(nullptr, 0, 150);
    if (bug == "races-exit-unwatched" && !broken::tracer_by_timing()) return;
    if (bug == "detached-quick") return;
    std::unique_lock lock(counted.mutex);
    counted.none_left.wait(lock, [] { return counted.running == 0; });
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "no-reap parent-keeps-socket one-request wraps-at-16m whole-mib-only partial-line crash "
        "accepts-sign sigpipe sigpipe-drop skips-empty-lines long-lines many-cr ignores-sigterm "
        "orphans kills-no-wait kills-no-wait-hides plain-fork iterative child-keeps-listener "
        "silent slow-start "
        "drops-every-50th "
        "forks threads thread-leak joins-blocked detached detached-sleeps detached-quick "
        "drains-before-reply "
        "detached-poll-sleeps "
        "counted-detached "
        "races-exit-unwatched "
        "shared-buffer "
        "cap-closes cap-spins "
        "thread-wakes-100ms thread-wakes-600ms thread-wakes-1900ms thread-wakes-4600ms "
        "time-scale-blind thread-decoy "
        "thread-decoy-hides thread-decoy-timer joins-blocked-write thread-logger "
        "cap-parks cap-parks-in-flight thread-emfile-spin");
    // -n is accepted (and ignored): the pool labs grade these servers as other designs.
    const csd::ServerOptions opts =
        csd::parse_server_options(argc, argv, csd::CommandLine{.workers = true});
    if (bug == "ignores-sigterm") {
        ::signal(SIGTERM, SIG_IGN);
        csd::route_signals({SIGINT, SIGCHLD});
    } else {
        csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
    }
    if (bug != "sigpipe" && bug != "sigpipe-drop") csd::ignore_sigpipe();
    if (bug == "slow-start") std::this_thread::sleep_for(std::chrono::seconds(6));
    if (bug == "time-scale-blind" && std::getenv("CSD_TIME_SCALE") != nullptr) {
        std::cerr << "server: CSD_TIME_SCALE is set: the grader's time scale leaked\n";
        return 3;
    }
    csd::Fd listener = csd::listen_tcp(opts.host, opts.port);
    if (bug != "silent") csd::announce_listening(opts.host, opts.port);
    switch (design()) {
        case Design::fork:
            serve_forking(listener);
            break;
        case Design::iterative:
            serve_iteratively(listener);
            break;
        case Design::thread:
            serve_threaded(listener);
            break;
    }
    return 0;
}
