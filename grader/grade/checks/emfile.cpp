// emfile (the thread, reactor and uring labs; docs/contract.md, section
// 2): out of descriptors, the server stops accepting for a moment without
// spinning, and takes it up again by itself once descriptors are free.
//
// The grader starts the server anew with RLIMIT_NOFILE at 48 (io_uring
// reads the limit when the accept is submitted, so it must be in force
// from the start) and opens 64 connections that each ask for 100 bytes.
// The server accepts and serves as many as fit; then accepting fails with
// EMFILE, which ends an io_uring multishot accept (a completion without
// IORING_CQE_F_MORE), and the others wait in the listen queue. For 1 s of
// that the server must stay under 30 % of a CPU (an accept submitted again
// at once fails again at once: a spin), wake no more than 50 times a
// second where the lab gives the pause (uring, reactor: 100 ms), and, in
// an event loop, never be found asleep (a sleep call holds
// up every client the loop already serves; the pause is a timeout request
// on the ring, or epoll_wait's timeout; a thread per connection's main
// thread serves nobody and may pause as it likes). Then the grader closes
// the served connections, and each queued client once it is served:
// within 3 s every queued client must be served, and a new one too. The
// server is stopped at the end (the next check gets one with the
// sandbox's usual limits). Hints follow the lab's design (pause_of()).
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "idle_watch.hpp"
#include "procfs.hpp"
#include "sandbox.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// The server's RLIMIT_NOFILE in this check.
constexpr rlim_t file_limit = 48;
/// Connections the grader opens against it.
constexpr int clients = 64;
/// Bytes each of them asks for.
constexpr std::size_t asked = 100;
/// Most CPU the server may use while out of descriptors, in % of one CPU.
constexpr double spin_limit = 30.0;
/// Most wakeups a second of one thread while out of descriptors: a retry
/// every 100 ms wakes it 10 to 20 times; one every millisecond, 1000.
constexpr double max_retry_rate = 50.0;

/// Makes the server's next starts use RLIMIT_NOFILE @p files, and the
/// sandbox's default again when destroyed. Main thread only.
class FileLimit {
  public:
    FileLimit(Server& server, rlim_t files) : server_(server) { server.limit_open_files(files); }
    ~FileLimit() { server_.limit_open_files(std::nullopt); }
    FileLimit(const FileLimit&) = delete;
    FileLimit& operator=(const FileLimit&) = delete;

  private:
    Server& server_;
};

/// One of the grader's connections and the bytes of its reply so far.
struct Client {
    Connection conn;
    std::size_t got = 0;
    bool closed = false;  ///< the server closed it (EOF or reset)
};

/// Reads whatever the clients in @p all have received, for up to @p limit
/// (scaled), until each of them has its whole reply (or was closed). With
/// @p close_served, each client is closed as soon as it has its reply, so
/// that its descriptor in the server is free for the next one.
void collect(std::vector<Client>& all, Deadline::Clock::duration limit, bool close_served = false) {
    const Deadline deadline(limit);
    std::vector<char> buf(4096);
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<Client*> owners;
        for (auto& c : all) {
            if (c.got >= asked || c.closed || c.conn.fd() < 0) continue;
            fds.push_back({c.conn.fd(), POLLIN, 0});
            owners.push_back(&c);
        }
        if (fds.empty() || deadline.expired()) return;
        const int ready = ::poll(fds.data(), fds.size(), deadline.poll_ms());
        if (ready <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            const ssize_t n = ::recv(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
            if (n > 0) {
                owners[i]->got += static_cast<std::size_t>(n);
                if (close_served && owners[i]->got >= asked) owners[i]->conn.close();
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                owners[i]->closed = true;
            }
        }
    }
}

// A thread of @p pid asleep: in a sleep call, or in a poll, select or
// epoll wait on no descriptor with a timeout (a sleep by another name), as
// "thread 12 (\"name\") sleeps in clock_nanosleep"; "" when none is.
// (Looked for in an event loop only, whose sleep holds up its clients.)
std::string asleep_thread(pid_t pid) {
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (procfs::is_io_worker(pid, tid)) continue;
        const waits::TaskWait w = waits::wait_of(pid, tid);
        if (!w.asleep()) continue;
        return fmt::format("thread {} (\"{}\") sleeps in {} (/proc/{}/task/{}/syscall)", tid,
                           procfs::thread_name(pid, tid), w.call, pid, tid);
    }
    return {};
}

/// How a server of one design pauses its accepting: the hints, and which
/// of the check's rules apply to it.
struct Pause {
    std::string_view how;       ///< "a timeout request on the ring"
    std::string_view again;     ///< what it does when the pause is over
    std::string_view for_good;  ///< why a server may never accept again
    /// The accepting thread also serves clients (an event loop), so a sleep
    /// holds them up; a thread per connection's main thread serves none.
    bool loop_serves = false;
    /// The lab gives the pause's length (uring's timeout request, reactor's
    /// accept_pause, 100 ms), so a retry every few milliseconds is judged;
    /// the thread lab asks for "a little" pause, and only its CPU is.
    bool length_given = false;
};

Pause pause_of(const Context& ctx) {
    switch (ctx.lab().model) {
        case Model::io_uring_loop:
            return {"a timeout request on the ring",
                    "submit the accept again when the pause completes",
                    "an accept that fails (EMFILE) ends the multishot accept: its completion "
                    "comes without IORING_CQE_F_MORE. Submit the accept again after a pause (a "
                    "timeout request), or no client is ever accepted again",
                    true, true};
        case Model::reactor:
            return {
                "stop watching the listening socket for a while (take it out of the loop's "
                "epoll set, or ignore it) and let epoll_wait's timeout end the pause",
                "watch the listening socket again when the pause is over",
                "a loop that stopped watching its listening socket must watch it again "
                "once the pause is over (each -m reuseport loop its own), or the clients "
                "queued on it are never accepted",
                true, true};
        default:
            return {
                "wait a while for the stop descriptor (csd::wait_for_stop(), as at the "
                "cap), which SIGTERM ends at once",
                "wait for the listening socket again and accept",
                "after the pause, go back to waiting for the listening socket and "
                "accepting: a server that stops accepting at the first EMFILE never serves "
                "the queued clients",
                ctx.lab().model == Model::event_loop, false};
    }
}

// emfile: out of descriptors, no spin, and accepting again by itself.
void check_emfile(Context& ctx) {
    const Pause pause = pause_of(ctx);
    // A sleep holds up every client of the thread that sleeps (not looked
    // for under ThreadSanitizer, whose own background thread sleeps in
    // nanosleep).
    const bool look_for_sleep = pause.loop_serves && !built_with_thread_sanitizer(ctx.program());
    const FileLimit limit(ctx.server(), file_limit);
    const Readiness started = ctx.server().start(5s, ctx.server().args());
    if (!started.accepting) {
        fail(fmt::format("started again with RLIMIT_NOFILE {}, the server did not accept: {}",
                         file_limit, started.problem));
    }
    const pid_t pid = ctx.pid();
    ctx.log("started with RLIMIT_NOFILE {}: {} descriptors open", file_limit,
            procfs::open_fds(pid).size());
    const Deadline overall(30s);
    std::vector<Client> all;
    for (int i = 0; i < clients; ++i) all.push_back({Connection::begin_open(ctx.port())});
    for (auto& c : all) {
        if (const int err = c.conn.finish_connect(overall.within(3s)); err != 0) {
            fail(
                fmt::format("connection {} of {} failed: {} (a client beyond the limit must "
                            "wait in the listen queue)",
                            &c - all.data() + 1, clients, std::strerror(err)));
        }
        c.conn.send_all(request_line(asked), overall.within(3s), "a request for 100 bytes");
    }
    collect(all, 1s);
    const auto served = static_cast<int>(
        std::count_if(all.begin(), all.end(), [](const Client& c) { return c.got >= asked; }));
    ctx.log("{} of {} clients served under the lowered limit", served, clients);
    ctx.require_running("out of descriptors");
    if (served == clients) {
        // Descriptors of its own making (io_uring's registered files?): no EMFILE to see.
        ctx.log("the limit did not bite: every client was served");
        return;
    }
    // Out of descriptors now, clients queued: the server must wait, not spin.
    const auto before = procfs::cpu_ticks(pid);
    const auto woke_before = idle_watch::snapshot(pid);
    const auto measured = scaled(1s);
    // Ten looks at what each thread waits in meanwhile: a thread asleep
    // (a sleep call, or a poll on no descriptor with a timeout) holds up
    // every client it serves, however little CPU it uses.
    std::string sleeper;
    for (int look = 0; look < 10; ++look) {
        std::this_thread::sleep_for(measured / 10);
        if (sleeper.empty() && look_for_sleep) sleeper = asleep_thread(pid);
    }
    const auto after = procfs::cpu_ticks(pid);
    const auto busiest = idle_watch::busiest(woke_before, idle_watch::snapshot(pid));
    if (before && after) {
        const double cpu = 100.0 * static_cast<double>(*after - *before) /
                           static_cast<double>(procfs::ticks_per_second()) /
                           std::chrono::duration<double>(measured).count();
        ctx.log("CPU while out of descriptors: {:.0f} %", cpu);
        if (cpu > spin_limit) {
            fail(fmt::format("out of descriptors (RLIMIT_NOFILE {}: {} of {} clients served, {} "
                             "waiting in the listen queue), the server used {:.0f} % of a CPU "
                             "for {:.1f} s: it tried to accept again and again",
                             file_limit, served, clients, clients - served, cpu,
                             std::chrono::duration<double>(measured).count()),
                 fmt::format("an accept that fails with EMFILE or ENFILE fails again at once "
                             "while the clients wait: pause ({}), then {}",
                             pause.how, pause.again));
        }
    }
    if (!sleeper.empty()) {
        fail(fmt::format("out of descriptors ({} of {} clients served, {} waiting in the listen "
                         "queue), {}: while it sleeps, the clients it already serves wait too",
                         served, clients, clients - served, sleeper),
             fmt::format("pause the accepting alone: {}, while the loop goes on serving its "
                         "clients; a sleep stops the whole loop",
                         pause.how));
    }
    // A retry every few milliseconds costs little CPU but is a polling loop
    // all the same: the pause between two tries is a pause. Judged where
    // the lab gives the pause's length (Pause::length_given); elsewhere the
    // CPU above is.
    const double seconds = std::chrono::duration<double>(measured).count();
    ctx.log("wakeups while out of descriptors: at most {} in one thread in {:.1f} s",
            busiest.wakeups, seconds);
    if (pause.length_given && static_cast<double>(busiest.wakeups) > max_retry_rate * seconds) {
        fail(fmt::format("out of descriptors ({} of {} clients served, {} waiting in the listen "
                         "queue), {}: it tried to accept again every few milliseconds",
                         served, clients, clients - served, idle_watch::describe(busiest, seconds)),
             fmt::format("an accept that fails with EMFILE or ENFILE fails again until a "
                         "descriptor is freed: pause a while (the reference: 100 ms; {}) "
                         "before the next try, not a millisecond",
                         pause.how));
    }
    // Free the server's descriptors: the queued clients must be served now.
    for (auto& c : all) {
        if (c.got >= asked || c.closed) c.conn.close();
    }
    std::erase_if(all, [](const Client& c) { return c.conn.fd() < 0; });
    const auto queued = all.size();
    // Each one closed once served: more may wait than the limit lets the
    // server hold at once (a server with more descriptors of its own).
    collect(all, 3s, true);
    const auto late =
        std::count_if(all.begin(), all.end(), [](const Client& c) { return c.got < asked; });
    if (late > 0) {
        fail(fmt::format("out of descriptors (RLIMIT_NOFILE {}), the server served {} of {} "
                         "clients; once the grader closed those, {} of the {} waiting in the "
                         "listen queue were still not served 3 s later: the server stopped "
                         "accepting for good",
                         file_limit, served, clients, late, queued),
             std::string(pause.for_good));
    }
    all.clear();
    fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s),
          "a new client once the queued ones were served");
}

}  // namespace

CSD_CHECK(emfile) {
    return {"emfile",
            10,
            check_emfile,
            "out of descriptors (the server started with RLIMIT_NOFILE 48, then 64 clients "
            "connect): the server stays under 30 % of a CPU, wakes at most 50 times a second "
            "where the lab gives the pause (uring, reactor) and, an event loop, never sleeps "
            "(nanosleep) while clients wait in the listen "
            "queue, and once the served ones close, every waiting client and a new one are "
            "served within 3 s",
            "when accepting fails with EMFILE or ENFILE, pause (a timeout request on the ring) "
            "and then submit the accept again: at once it would fail again, never it would "
            "leave every later client waiting",
            {"cpu"},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
