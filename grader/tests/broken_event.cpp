// An event-driven lab server (one poll() loop, one csd::Session per client)
// that is correct except for the one bug named by CSD_BUG at compile time.
// grader/tests/CMakeLists.txt builds one broken-<bug> program per bug and
// checks that csd-grade fails exactly the check that bug is about.
#include <poll.h>
#include <sys/select.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
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

/// One client: its socket and its protocol state.
struct Client {
    csd::Fd fd;
    csd::Session session;
    bool gone = false;  ///< Reset or vanished: drop it.
};

/// The events @p c waits for.
short interest(const Client& c) {
    short events = 0;
    if (c.session.wants_input()) events |= POLLIN;
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
    const std::size_t room = std::min(sizeof buf, c.session.input_room());
    const csd::ReadResult r = csd::read_some(c.fd.get(), buf, room);
    if (r.status == csd::ReadStatus::ok) (void)c.session.feed({buf, r.bytes});
    if (r.status == csd::ReadStatus::eof) c.session.end_of_input();
    if (r.status == csd::ReadStatus::peer_gone) c.gone = true;
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

/// Sends @p c's pending output until the socket is full (for a blocking
/// socket: until all of it is sent).
void on_writable(Client& c) {
    while (c.session.has_output()) {
        const std::string_view out = c.session.output();
        const csd::WriteResult w = csd::write_some(c.fd.get(), out);
        if (w.status == csd::WriteStatus::peer_gone) c.gone = true;
        if (w.status != csd::WriteStatus::ok) return;
        if constexpr (bug == "short-write") {
            c.session.consume(out.size());
        } else if constexpr (bug == "resend") {
            c.session.consume(w.bytes == out.size() ? w.bytes : 0);
        } else {
            c.session.consume(w.bytes);
        }
    }
}

/// Accepts every waiting connection into @p clients.
void accept_all(int listener, std::vector<Client>& clients) {
    const auto mode = bug != "blocking-write" ? csd::IoMode::nonblocking : csd::IoMode::blocking;
    while (csd::Fd fd = csd::accept_connection(listener, mode).connection) {
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
            if ((ready & (POLLIN | POLLHUP | POLLERR)) && c.session.wants_input()) on_readable(c);
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
    csd::ignore_sigpipe();
    const csd::Fd listener = csd::listen_tcp(opts.host, opts.port, {.nonblocking = true});
    csd::announce_listening(opts.host, opts.port);
    serve(listener);
    return 0;
}
