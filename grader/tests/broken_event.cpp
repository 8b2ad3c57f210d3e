// An event-driven lab server (one poll() loop, one csd::Session per client)
// that is correct except for the one bug named by CSD_BUG at compile time.
// grader/tests/CMakeLists.txt builds one broken-<bug> program per bug and
// checks that csd-grade fails exactly the check that bug is about.
#include <poll.h>
#include <sys/select.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "csd/lab.hpp"

#ifndef CSD_BUG
#define CSD_BUG "none"
#endif

namespace {

/// The one thing this build gets wrong ("none": a correct server).
constexpr std::string_view bug = CSD_BUG;

// The bugs, each with the check that must catch it:
//   short-write       takes every write as complete, whatever it returned     -> bytes
//   resend            after a partial write, resends the chunk from its start -> bytes
//   blocking-write    leaves client sockets blocking: "write until full"
//                     then waits for a client that does not read              -> slow-reader
//   spin              polls with a zero timeout: a busy loop when idle        -> idle-cpu
//   select-not-epoll  waits in select() (graded as epoll)                     -> syscall
//   cap-1000          closes every connection beyond the 1000th at once       -> many
//   blocking-read     waits for the rest of a line: half a line stalls all    -> concurrency
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

/// The solutions' per-turn write budget (the *-256k bugs and sigpipe-poll).
constexpr std::size_t write_budget = 256 * 1024;
constexpr bool budgeted =
    bug == "short-write-256k" || bug == "resend-256k" || bug == "sigpipe-poll";

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
struct Client {
    csd::Fd fd;
    csd::Session session;
    bool gone = false;  ///< Reset or vanished: drop it.
    bool eof = false;   ///< The client half-closed (no-backpressure keeps track itself).
    ReplySizes sizes{};  ///< blocking-write-1m only.
};

/// True when @p c's requests are read (no-backpressure: whatever is queued).
bool reads(const Client& c) {
    if constexpr (bug == "no-backpressure") return !c.eof && !c.session.malformed();
    return c.session.wants_input();
}

/// The events @p c waits for.
short interest(const Client& c) {
    short events = 0;
    if (reads(c)) events |= POLLIN;
    if (c.session.has_output()) events |= POLLOUT;
    return events;
}

/// poll(), or for the select-not-epoll bug the same wait done with select().
int wait_for_events(std::vector<pollfd>& fds) {
    if constexpr (bug == "select-not-epoll") {
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

/// One read into @p c's session.
void read_once(Client& c) {
    char buf[4096];
    const csd::IoResult r = csd::read_some(c.fd.get(), buf, sizeof buf);
    if (r.status == csd::IoStatus::ok) c.session.feed({buf, r.bytes});
    if (r.status == csd::IoStatus::ok && bug == "blocking-write-1m") c.sizes.feed({buf, r.bytes});
    if (r.status == csd::IoStatus::eof) c.session.end_of_input();
    if (r.status == csd::IoStatus::eof) c.eof = true;
    if (r.status == csd::IoStatus::peer_gone) c.gone = true;
}

/// Reads what @p c sent (blocking-read: until it sent a whole line).
void on_readable(Client& c) {
    read_once(c);
    if constexpr (bug == "blocking-read") {
        while (!c.gone && c.session.wants_input() && !c.session.has_output()) {
            pollfd p{c.fd.get(), POLLIN, 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) csd::throw_errno("poll");
            read_once(c);
        }
    }
}

/// write_some(), or for sigpipe-poll a plain write(): no MSG_NOSIGNAL.
csd::IoResult write_out(int fd, std::string_view out) {
    if constexpr (bug == "sigpipe-poll") {
        const ssize_t n = ::write(fd, out.data(), out.size());
        if (n >= 0) return {csd::IoStatus::ok, static_cast<std::size_t>(n)};
        if (csd::would_block(errno)) return {csd::IoStatus::would_block, 0};
        if (errno == EINTR) return {csd::IoStatus::interrupted, 0};
        return {csd::IoStatus::peer_gone, 0};
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
        const csd::IoResult w = csd::write_some(c.fd.get(), out.substr(0, len));
        if (w.status == csd::IoStatus::peer_gone) c.gone = true;
        if (w.status == csd::IoStatus::ok) {
            c.session.consume(w.bytes);
            c.sizes.sent(w.bytes);
        } else if (w.status == csd::IoStatus::would_block) {
            pollfd p{c.fd.get(), POLLOUT, 0};
            (void)::poll(&p, 1, -1);  // the bug: wait for this one client
        }
    }
}

/// Sends @p c's pending output until the socket is full (for a blocking
/// socket: until all of it is sent), or for the budgeted bugs until
/// write_budget bytes went out.
void on_writable(Client& c) {
    if constexpr (bug == "blocking-write-1m") write_small_reply_blocking(c);
    std::size_t total = 0;
    while (c.session.has_output() && !c.gone && (!budgeted || total < write_budget)) {
        const std::string_view out = c.session.output();
        const csd::IoResult w = write_out(c.fd.get(), out);
        if (w.status == csd::IoStatus::peer_gone) c.gone = true;
        if (w.status != csd::IoStatus::ok) return;
        total += w.bytes;
        if constexpr (bug == "short-write" || bug == "short-write-256k") {
            c.session.consume(out.size());
        } else if constexpr (bug == "resend" || bug == "resend-256k") {
            c.session.consume(w.bytes == out.size() ? w.bytes : 0);
        } else {
            c.session.consume(w.bytes);
            if constexpr (bug == "blocking-write-1m") c.sizes.sent(w.bytes);
        }
    }
}

/// Accepts every waiting connection into @p clients.
void accept_all(int listener, std::vector<Client>& clients) {
    while (csd::Fd fd = csd::accept_connection(listener, bug != "blocking-write")) {
        if constexpr (bug == "cap-1000") {
            if (clients.size() >= 1000) continue;  // fd closes here, unanswered
        }
        clients.push_back({std::move(fd), {}});
    }
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
        }
        std::erase_if(clients, [](const Client& c) { return c.gone || c.session.finished(); });
        if (fds[0].revents) (void)csd::drain_signals();
        if (fds[1].revents) accept_all(listener.get(), clients);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions opts = csd::parse_server_options(argc, argv);
    csd::route_signals({SIGTERM, SIGINT});
    if constexpr (bug != "sigpipe-poll") csd::ignore_sigpipe();
    const csd::Fd listener = csd::listen_tcp(opts.host, opts.port, /*nonblocking=*/true);
    csd::announce_listening(opts.host, opts.port);
    serve(listener);
    return 0;
}
