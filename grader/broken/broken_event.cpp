// An event-driven lab server (one poll() loop, one csd::Session per client)
// that is correct except for the one bug named by the program's name
// (broken-BUG, see broken_bug.hpp). grader/broken/CMakeLists.txt builds this
// file once, links broken-<bug> to it for each bug and checks that csd-grade
// fails exactly the check that bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
//   Partial writes happen on non-blocking sockets: these bugs live in the poll server.
// test: short-write poll bytes control concurrency
// test: resend poll bytes control concurrency
// test: blocking-write poll slow-reader control pipeline
// test: spin poll idle-cpu control pipeline
// test: select-not-epoll epoll syscall control pipeline
// test: epoll-doorbell epoll syscall control pipeline
// test: cap-1000 poll many control pipeline
// test: blocking-read poll concurrency control pipeline
//   Waits that look right from the name of the call alone: seen from their
//   arguments (/proc/PID/syscall, the epoll interest list) and their wakeup rate.
// test: sleep-select select syscall control pipeline
// test: sleep-epoll epoll syscall control pipeline
// test: select-on-epoll select syscall control pipeline
//   A thread that exists only while a big reply is in flight.
// test: writer-thread poll architecture control pipeline
//   Slow leaks: fd-leak makes 2100 connections.
// test: leak-every-500th poll fd-leak control pipeline
// test: leak-every-1000th poll fd-leak control pipeline
// test: sigpipe-poll poll reset control pipeline
// test: short-write-256k poll bytes control concurrency
// test: resend-256k poll bytes control concurrency
// test: blocking-write-1m poll slow-reader control pipeline
// test: no-backpressure poll back-pressure control pipeline
//   A cap per client that one client never reaches (issue 20: it had full
//   marks); 8 clients at once do.
// test: backlog-32m poll back-pressure control pipeline
// test: backlog-3m poll back-pressure control pipeline
// test: event-loop prethread architecture control pipeline
//   An epoll server that also holds an io_uring it never uses (graded as uring).
// test: epoll-ring uring architecture control pipeline
//   One loop does the work beside threads that only exist (issue 20: they had
//   full marks): the architecture checks see which threads serve requests.
// test: decoy-threads thread architecture control pipeline
// test: decoy-pool prethread architecture control pipeline
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this server gets wrong ("event-loop": nothing), set first
/// thing in main().
std::string_view bug;

// The bugs, each with the check that must catch it:
//   short-write       takes every write as complete, whatever it returned     -> bytes
//   resend            after a partial write, resends the chunk from its start -> bytes
//   blocking-write    leaves client sockets blocking: "write until full"
//                     then waits for a client that does not read              -> slow-reader
//   spin              polls with a zero timeout: a busy loop when idle        -> idle-cpu
//   select-not-epoll  waits in select() (graded as epoll)                     -> syscall
//   epoll-doorbell    sleeps in epoll_wait() on every socket, then poll()s them
//                     all to see which is ready: O(n) per wakeup (as epoll) -> syscall
//   cap-1000          closes every connection beyond the 1000th at once       -> many
//   blocking-read     waits for the rest of a line: half a line stalls all    -> concurrency
//   sleep-select      select() with no descriptors and a 1 ms timeout used as
//                     a sleep, then tries every socket (graded as select)      -> syscall
//   sleep-epoll       epoll_wait() on an empty epoll set with a 1 ms timeout,
//                     then tries every socket (graded as epoll)                -> syscall
//   select-on-epoll   its sockets in an epoll set, waited on by select() on
//                     the epoll descriptor alone (graded as select)            -> syscall
//   decoy-threads     one poll() loop serves every client, but a thread that
//                     only sleeps is started for each connection and ended
//                     with it (graded as thread: the count grows and falls) -> architecture
//   decoy-pool        one poll() loop serves every client, beside -n threads
//                     that only sleep (graded as prethread)                -> architecture
//   writer-thread     hands a client that asks for more than 1 MiB to a new
//                     thread, which writes the reply (and serves it on)       -> architecture
//   leak-every-500th  shuts down every 500th connection when done, but never
//                     closes its descriptor                                    -> fd-leak
//   leak-every-1000th the same, every 1000th connection                        -> fd-leak
// Bugs in a server that otherwise writes like the solutions (at most
// write_budget bytes per turn, writability asked for only while output is
// pending), so that only a client that makes writes come up short sees them:
//   short-write-256k  short-write, with the budget                            -> bytes
//   resend-256k       resend, with the budget                                 -> bytes
//   sigpipe-poll      sends with write() (no MSG_NOSIGNAL) and leaves SIGPIPE
//                     fatal; drops a client at its first failed write         -> reset
//   blocking-write-1m writes replies up to 1 MiB in a blocking loop (bigger
//                     ones as it should)                                      -> slow-reader
//   no-backpressure   reads whatever arrives, however many requests are
//                     queued (no max_queued_requests cap)                     -> back-pressure
//   backlog-32m       the same, up to 32 MiB read ahead per client: one client
//                     flooding alone stays under the bound, 8 at once do not -> back-pressure
//   backlog-3m        the same, up to 3 MiB per client: 8 at once stay under
//                     one client's bound, not under 1 MiB each              -> back-pressure
//   epoll-ring        waits in epoll_wait() on its sockets, and also holds an
//                     io_uring instance it never uses (graded as uring)       -> architecture

/// The solutions' per-turn write budget (the *-256k bugs and sigpipe-poll).
constexpr std::size_t write_budget = 256 * 1024;
/// True for the bugs that write at most write_budget bytes per turn.
bool budgeted() {
    return bug == "short-write-256k" || bug == "resend-256k" || bug == "sigpipe-poll";
}

/// The sizes of the replies still owed, for blocking-write-1m: which reply
/// is being sent, and how big it is.
struct ReplySizes {
    std::deque<std::uint64_t> owed;  ///< Reply sizes, in order.
    std::uint64_t front_sent = 0;    ///< Bytes of owed.front() already sent.
    std::string line;                ///< The unfinished request line.

    /// Notes the requests in @p bytes (a malformed one ends the list).
    void feed(std::string_view bytes) {
        for (const char ch : bytes) {
            if (ch != '\n') {
                line += ch;
                continue;
            }
            if (const std::uint64_t n = csd::parse_request(line); n > 0) owed.push_back(n);
            line.clear();
        }
    }
    /// @p n reply bytes went out.
    void sent(std::uint64_t n) {
        front_sent += n;
        while (!owed.empty() && front_sent >= owed.front()) {
            front_sent -= owed.front();
            owed.pop_front();
        }
    }
};

/// One client: its socket and its protocol state.
/// decoy-*: a thread that does nothing but wait for the stop or for its
/// end (its eventfd), so that the server looks like it has one per client or
/// a pool. Ends and is joined when destroyed.
class Decoy {
  public:
    Decoy()
        : wake_(csd::check(::eventfd(0, EFD_CLOEXEC), "eventfd")), thread_([fd = wake_.get()] {
              pollfd p[2] = {{csd::stop_fd(), POLLIN, 0}, {fd, POLLIN, 0}};
              while (::poll(p, 2, -1) < 0 && errno == EINTR) {
              }
          }) {}
    Decoy(const Decoy&) = delete;
    Decoy& operator=(const Decoy&) = delete;
    ~Decoy() {
        const std::uint64_t one = 1;
        (void)!::write(wake_.get(), &one, sizeof one);
        thread_.join();
    }

  private:
    csd::Fd wake_;
    std::thread thread_;
};

struct Client {
    csd::Fd fd;
    csd::Session session;
    bool gone = false;      ///< Reset or vanished: drop it.
    bool leak = false;      ///< leak-every-*: never close this one's descriptor.
    bool big = false;       ///< writer-thread: asked for more than 1 MiB.
    std::string line;       ///< writer-thread: the unfinished request line.
    bool eof = false;       ///< The client half-closed (no-backpressure keeps track itself).
    ReplySizes sizes{};     ///< blocking-write-1m only.
    std::string backlog{};  ///< Read, not yet taken by the session (no-backpressure grows it).
    std::shared_ptr<Decoy> decoy{};  ///< decoy-threads: its thread that only sleeps.
};

/// Hands @p c's session what it can take of the backlog.
void feed_backlog(Client& c) {
    if (c.backlog.empty()) return;
    c.backlog.erase(0, c.session.feed(c.backlog));
}

/// Every N-th connection is leaked (0: none).
unsigned leak_every() {
    return bug == "leak-every-500th" ? 500 : bug == "leak-every-1000th" ? 1000 : 0;
}

/// True when @p c's requests are read (no-backpressure: whatever is queued).
bool reads(const Client& c) {
    if (bug == "no-backpressure") return !c.eof && !c.session.malformed();
    if (bug == "backlog-32m" || bug == "backlog-3m") {
        const std::size_t cap = bug == "backlog-32m" ? (32U << 20) : (3U << 20);
        return !c.eof && !c.session.malformed() && c.backlog.size() < cap;
    }
    return c.session.wants_input();
}

/// The events @p c waits for.
short interest(const Client& c) {
    short events = 0;
    if (reads(c)) events |= POLLIN;
    if (c.session.has_output()) events |= POLLOUT;
    return events;
}

/// select-on-epoll: the sockets of @p fds in an epoll set, waited on with
/// select() on the epoll descriptor, then collected with epoll_wait().
/// epoll-ring: the same set, waited on by epoll_wait() itself.
int wait_through_epoll(std::vector<pollfd>& fds) {
    static const csd::Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    std::map<int, std::size_t> index;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        epoll_event ev{};
        ev.events = static_cast<std::uint32_t>(fds[i].events);
        ev.data.fd = fds[i].fd;
        if (::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, fds[i].fd, &ev) < 0) {
            csd::check(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fds[i].fd, &ev), "epoll_ctl");
        }
        fds[i].revents = 0;
        index[fds[i].fd] = i;
    }
    if (bug == "select-on-epoll") {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(epoll.get(), &readable);
        if (::select(epoll.get() + 1, &readable, nullptr, nullptr, nullptr) < 0) return -1;
    }
    std::vector<epoll_event> events(fds.size());
    const int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()),
                               bug == "epoll-ring" || bug == "epoll-doorbell" ? -1 : 0);
    for (int k = 0; k < n; ++k) {
        const auto e = events[static_cast<std::size_t>(k)];
        fds[index[e.data.fd]].revents = static_cast<short>(e.events);
    }
    return n;
}

/// poll(), or the wait of the bug (select-not-epoll: the same wait done with
/// select(); sleep-*: a 1 ms sleep, then every socket is tried).
int wait_for_events(std::vector<pollfd>& fds) {
    if (bug == "sleep-select" || bug == "sleep-epoll") {
        if (bug == "sleep-select") {
            timeval tick{0, 1000};
            if (::select(0, nullptr, nullptr, nullptr, &tick) < 0) return -1;
        } else {
            static const csd::Fd empty(::epoll_create1(EPOLL_CLOEXEC));
            epoll_event ev{};
            if (::epoll_wait(empty.get(), &ev, 1, 1) < 0) return -1;
        }
        for (pollfd& p : fds) p.revents = p.events;  // try every socket
        return static_cast<int>(fds.size());
    }
    if (bug == "select-on-epoll" || bug == "epoll-ring") return wait_through_epoll(fds);
    if (bug == "epoll-doorbell") {
        if (wait_through_epoll(fds) < 0) return -1;
        return ::poll(fds.data(), fds.size(), 0);  // the bug: look at every socket again
    }
    if (bug == "select-not-epoll") {
        fd_set readable;
        fd_set writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        int top = -1;
        for (const pollfd& p : fds) {
            if (p.events & POLLIN) FD_SET(p.fd, &readable);
            if (p.events & POLLOUT) FD_SET(p.fd, &writable);
            top = std::max(top, p.fd);
        }
        const int n = ::select(top + 1, &readable, &writable, nullptr, nullptr);
        for (pollfd& p : fds) {
            p.revents = static_cast<short>((FD_ISSET(p.fd, &readable) ? POLLIN : 0) |
                                           (FD_ISSET(p.fd, &writable) ? POLLOUT : 0));
        }
        return n;
    }
    return ::poll(fds.data(), fds.size(), bug == "spin" ? 0 : -1);
}

/// writer-thread: notes in @p c whether a request of @p bytes asks for more than 1 MiB.
void note_big_requests(Client& c, std::string_view bytes) {
    for (const char ch : bytes) {
        if (ch != '\n') {
            if (c.line.size() <= csd::max_line_bytes) c.line += ch;
            continue;
        }
        if (csd::parse_request(c.line) > (1U << 20)) c.big = true;
        c.line.clear();
    }
}

/// One read into @p c's session.
void read_once(Client& c) {
    char buf[4096];
    feed_backlog(c);
    // no-backpressure reads whatever arrives and keeps what the session
    // cannot take yet in a backlog that grows without bound: the bug.
    const std::size_t room = bug == "no-backpressure" || bug == "backlog-32m" || bug == "backlog-3m"
                                 ? sizeof buf
                                 : std::min(sizeof buf, c.session.input_room());
    const csd::ReadResult r = csd::read_some(c.fd.get(), buf, room);
    if (r.status == csd::ReadStatus::ok && bug == "writer-thread") {
        note_big_requests(c, {buf, r.bytes});
    }
    if (r.status == csd::ReadStatus::ok) {
        const std::string_view got{buf, r.bytes};
        if (bug == "blocking-write-1m") c.sizes.feed(got);
        if (c.backlog.empty()) {
            const std::size_t taken = c.session.feed(got);
            c.backlog.append(got.substr(taken));
        } else {
            c.backlog.append(got);
        }
    }
    if (r.status == csd::ReadStatus::eof) c.session.end_of_input();
    if (r.status == csd::ReadStatus::eof) c.eof = true;
    if (r.status == csd::ReadStatus::peer_gone) c.gone = true;
}

/// Reads what @p c sent (blocking-read: until it sent a whole line).
void on_readable(Client& c) {
    read_once(c);
    if (bug == "blocking-read") {
        while (!c.gone && c.session.wants_input() && !c.session.has_output()) {
            pollfd p{c.fd.get(), POLLIN, 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) csd::throw_errno("poll");
            read_once(c);
        }
    }
}

/// write_some(), or for sigpipe-poll a plain write(): no MSG_NOSIGNAL.
csd::WriteResult write_out(int fd, std::string_view out) {
    if (bug == "sigpipe-poll") {
        const ssize_t n = ::write(fd, out.data(), out.size());
        if (n >= 0) return {csd::WriteStatus::ok, static_cast<std::size_t>(n)};
        if (csd::would_block(errno)) return {csd::WriteStatus::would_block, 0};
        if (errno == EINTR) return {csd::WriteStatus::interrupted, 0};
        return {csd::WriteStatus::peer_gone, 0};
    }
    return csd::write_some(fd, out);
}

/// blocking-write-1m: sends the rest of a reply of at most 1 MiB in a
/// blocking loop (waits for the client, however long it takes).
[[maybe_unused]] void write_small_reply_blocking(Client& c) {
    if (c.sizes.owed.empty() || c.sizes.owed.front() > (1U << 20)) return;
    const std::size_t replies = c.sizes.owed.size();
    while (!c.gone && c.sizes.owed.size() == replies) {
        const std::string_view out = c.session.output();
        const std::uint64_t left = c.sizes.owed.front() - c.sizes.front_sent;
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(left, out.size()));
        const csd::WriteResult w = csd::write_some(c.fd.get(), out.substr(0, len));
        if (w.status == csd::WriteStatus::peer_gone) c.gone = true;
        if (w.status == csd::WriteStatus::ok) {
            c.session.consume(w.bytes);
            c.sizes.sent(w.bytes);
        } else if (w.status == csd::WriteStatus::would_block) {
            pollfd p{c.fd.get(), POLLOUT, 0};
            (void)::poll(&p, 1, -1);  // the bug: wait for this one client
        }
    }
}

/// Sends @p c's pending output until the socket is full (for a blocking
/// socket: until all of it is sent), or for the budgeted bugs until
/// write_budget bytes went out.
void on_writable(Client& c) {
    if (bug == "blocking-write-1m") write_small_reply_blocking(c);
    std::size_t total = 0;
    while (c.session.has_output() && !c.gone && (!budgeted() || total < write_budget)) {
        const std::string_view out = c.session.output();
        const csd::WriteResult w = write_out(c.fd.get(), out);
        if (w.status == csd::WriteStatus::peer_gone) c.gone = true;
        if (w.status != csd::WriteStatus::ok) return;
        total += w.bytes;
        if (bug == "short-write" || bug == "short-write-256k") {
            c.session.consume(out.size());
        } else if (bug == "resend" || bug == "resend-256k") {
            c.session.consume(w.bytes == out.size() ? w.bytes : 0);
        } else {
            c.session.consume(w.bytes);
            if (bug == "blocking-write-1m") c.sizes.sent(w.bytes);
        }
        feed_backlog(c);  // a reply sent may make room for queued requests
    }
}

/// writer-thread: serves @p c from now on in a thread of its own, with
/// blocking writes and reads, until it is done.
void hand_to_thread(Client c) {
    const int flags = csd::check(::fcntl(c.fd.get(), F_GETFL), "fcntl");
    csd::check(::fcntl(c.fd.get(), F_SETFL, flags & ~O_NONBLOCK), "fcntl");
    std::thread([c = std::move(c)]() mutable {
        while (!c.gone && !c.session.finished()) {
            if (c.session.has_output()) {
                on_writable(c);
            } else {
                read_once(c);
            }
        }
    }).detach();
}

/// Accepts every waiting connection into @p clients.
void accept_all(int listener, std::vector<Client>& clients) {
    static unsigned accepted = 0;
    const auto mode = bug != "blocking-write" ? csd::IoMode::nonblocking : csd::IoMode::blocking;
    while (csd::Fd fd = csd::accept_connection(listener, mode).connection) {
        if (bug == "cap-1000") {
            if (clients.size() >= 1000) continue;  // fd closes here, unanswered
        }
        ++accepted;
        clients.push_back({.fd = std::move(fd),
                           .session = {},
                           .gone = false,
                           .leak = leak_every() != 0 && accepted % leak_every() == 0,
                           .big = false,
                           .line = {}});
        if (bug == "decoy-threads") clients.back().decoy = std::make_shared<Decoy>();
    }
}

/// Closes @p c (leak-every-*: only shuts it down, and keeps the descriptor).
void drop(Client& c) {
    static std::vector<csd::Fd> leaked;
    if (!c.leak) return;
    ::shutdown(c.fd.get(), SHUT_RDWR);
    leaked.push_back(std::move(c.fd));
}

/// The loop: until SIGTERM or SIGINT, serve every client from one poll().
void serve(const csd::Fd& listener) {
    std::vector<Client> clients;
    std::vector<pollfd> fds;
    while (!csd::stop_requested()) {
        fds.assign({{csd::signal_fd(), POLLIN, 0}, {listener.get(), POLLIN, 0}});
        for (const Client& c : clients) fds.push_back({c.fd.get(), interest(c), 0});
        if (wait_for_events(fds) < 0) {
            if (errno == EINTR) continue;
            csd::throw_errno("poll");
        }
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const short ready = fds[i + 2].revents;
            Client& c = clients[i];
            if ((ready & (POLLIN | POLLHUP | POLLERR)) && reads(c)) on_readable(c);
            if ((ready & (POLLOUT | POLLHUP | POLLERR)) && c.session.has_output() && !c.gone) {
                on_writable(c);
            }
            if (bug == "writer-thread" && c.big && !c.gone && !c.session.finished()) {
                hand_to_thread(std::move(c));
                c.gone = true;
            }
        }
        for (Client& c : clients) {
            if (c.gone || c.session.finished()) drop(c);
        }
        std::erase_if(clients, [](const Client& c) { return c.gone || c.session.finished(); });
        if (fds[0].revents) (void)csd::drain_signals();
        if (fds[1].revents) accept_all(listener.get(), clients);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "short-write resend blocking-write spin select-not-epoll epoll-doorbell cap-1000 "
        "blocking-read "
        "sleep-select sleep-epoll select-on-epoll writer-thread leak-every-500th "
        "leak-every-1000th short-write-256k resend-256k sigpipe-poll blocking-write-1m "
        "no-backpressure backlog-32m backlog-3m epoll-ring event-loop decoy-threads decoy-pool");
    // -n is accepted (and ignored): the pool labs grade these servers as other
    // designs. So is -e: the epoll lab runs some checks with it, and these
    // servers wait level-triggered whatever it says.
    const csd::ServerOptions opts = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{.workers = true,
                         .flags = {{.letter = 'e', .help = "ignored: always level-triggered"}}});
    csd::route_signals({SIGTERM, SIGINT});
    if (bug != "sigpipe-poll") csd::ignore_sigpipe();
    csd::Fd ring;
    if (bug == "epoll-ring") {
        // A ring set up and never used (the raw call: this file needs no liburing).
        io_uring_params params{};
        ring = csd::Fd(static_cast<int>(
            csd::check(::syscall(SYS_io_uring_setup, 8, &params), "io_uring_setup")));
    }
    (void)csd::stop_fd();  // made by the main thread, before any decoy waits on it
    std::vector<std::unique_ptr<Decoy>> pool;  // decoy-pool: -n threads that only sleep
    for (int i = 0; bug == "decoy-pool" && i < opts.workers; ++i)
        pool.push_back(std::make_unique<Decoy>());
    const csd::Fd listener = csd::listen_tcp(opts.host, opts.port, {.nonblocking = true});
    csd::announce_listening(opts.host, opts.port);
    serve(listener);
    return 0;
}
