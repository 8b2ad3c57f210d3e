// Lab "sendfile": an epoll server whose replies are bytes of a file, sent by
// sendfile(2) (TLPI 61.4, "Transferring Data Between File Descriptors";
// sendfile(2)). Byte i of every reply is byte i % SIZE of the file given
// with -f (docs/contract.md, section 6): each reply starts at offset 0 of
// the file and wraps around its end.
//
// The loop around epoll_wait(), accepting, reading the requests (the
// library's csd::pump_input() into a csd::Session) and closing are given:
// they are the epoll lab. The handout, labs/sendfile/handout.md, explains
// the steps the TODOs below name ("handout step N"): opening the file and
// refusing one that cannot be served, where each piece of a reply comes
// from in the file, sendfile() on a non-blocking socket and its partial
// sends, waiting for room in the socket (EPOLLOUT) while a reply is owed,
// and SIGPIPE, which sendfile() cannot turn off; then -m copy, the same
// bytes sent the old way (pread() into a buffer, send() from it), which
// `./csd bench sendfile` measures sendfile() against; and -m splice, what
// sendfile() does inside the kernel written out: file to a pipe, pipe to
// the socket, with splice(2).

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "csd/lab.hpp"

namespace {

/// Most bytes read from one client in one turn of the loop.
constexpr std::size_t read_budget = 64 * 1024;
/// Most bytes sent to one client in one turn of the loop: a client with a
/// 1 GiB reply must not keep the loop to itself.
constexpr std::size_t write_budget = 1024 * 1024;
/// Most clients served at once; more are accepted and closed at once. Below
/// the usual limit of 1024 descriptors, so accept() never runs out of them
/// (the epoll lab shows what to do when it does).
constexpr std::size_t max_clients = 1000;
/// Most events one epoll_wait() hands over.
constexpr int max_events = 256;

/// The file the replies are made of: opened read-only once, shared by
/// every connection (sendfile() takes the offset as an argument, so no
/// connection moves a file position another one relies on).
struct ServedFile {
    csd::Fd fd;              ///< Open for reading.
    std::uint64_t size = 0;  ///< Its size in bytes, at least 1.
};

/// Opens @p path and reads its size, before the server listens. Throws
/// std::system_error when a call fails, std::runtime_error when the file
/// cannot be served (not a regular file, or empty).
ServedFile open_served_file(const std::string& path) {
    // TODO(handout step 2): open the file read-only (open(2); the
    // descriptor is not for a child: close-on-exec) and read its size
    // (fstat(2)). Refuse, by throwing, a file that cannot be served: not a
    // regular file (inode(7): a directory opens, then every sendfile()
    // fails), or empty (no byte to cycle through). main() then exits with
    // a message and a non-zero status, before `Listening on`.
    // SKELETON: (void)path;
    // SKELETON: return {};  // no file: nothing refused, and nothing to serve
    // BEGIN SOLUTION
    ServedFile file{csd::Fd(csd::check(::open(path.c_str(), O_RDONLY | O_CLOEXEC), "open")), 0};
    struct stat st {};
    csd::check(::fstat(file.fd.get(), &st), "fstat");
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + " is not a regular file");
    if (st.st_size == 0) throw std::runtime_error(path + " is empty");
    file.size = static_cast<std::uint64_t>(st.st_size);
    return file;
    // END SOLUTION
}

/// One client: its socket and its protocol state.
///
/// The session parses the requests and counts what each reply still owes
/// (reply_offset(), reply_left()); the server sends those bytes from the
/// file and reports them with consume(). Session::output() is never used:
/// it would make the alphabet of the other labs in user memory.
struct Connection {
    csd::Fd fd;                  ///< The connected socket, non-blocking; empty once closed.
    csd::Session session;        ///< What the client asked for and what it is still owed.
    bool gone = false;           ///< The client reset or vanished: close it.
    std::uint32_t watching = 0;  ///< The events epoll watches on fd now.
    // TODO(handout step 8): what a connection needs in -m splice: a pipe
    // of its own (a pipe shared by the connections would mix their
    // bytes), and how many bytes of its reply wait in it.
    // BEGIN SOLUTION
    csd::Fd pipe_read;        ///< -m splice: the pipe's read end (to the socket); empty until used.
    csd::Fd pipe_write;       ///< -m splice: its write end (from the file).
    std::size_t in_pipe = 0;  ///< -m splice: bytes of the reply in the pipe, not yet sent.
    // END SOLUTION

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// How the replies leave.
enum class Mode {
    sendfile,  ///< sendfile(2): from the page cache to the socket, in the kernel.
    copy,      ///< -m copy: pread(2) into a buffer, send(2) from it.
    splice,    ///< -m splice: splice(2) from the file to a pipe, then to the socket.
};

// What epoll_event.data.ptr holds for the two descriptors that are not
// clients (for a client, it is its Connection*).
char stop_tag;
char listener_tag;

/// The event loop: the epoll instance, the listening socket, the file,
/// every connection.
///
/// Owns all of them. Used by the one thread of the process; nothing in it
/// ever blocks except epoll_wait().
class Server {
  public:
    /// Serves @p file to the clients of @p listener, a non-blocking
    /// listening socket, sending the way @p mode says.
    Server(csd::Fd listener, ServedFile file, Mode mode);

    /// Runs the loop until SIGTERM or SIGINT, then returns.
    void run();

  private:
    /// epoll_ctl(@p op) for @p fd: watch @p events, report them with @p tag.
    void control(int op, int fd, std::uint32_t events, void* tag);
    /// Accepts every client waiting in the listen queue.
    void accept_clients();
    /// Serves @p c, for which epoll_wait() reported @p events.
    void on_event(Connection& c, std::uint32_t events);
    /// Sends what @p c is owed from the file (at most write_budget bytes),
    /// until the socket would block; marks it gone if the client vanished.
    void send_replies(Connection& c);
    /// send_replies() the old way (-m copy): pread() and send().
    void copy_replies(Connection& c);
    /// send_replies() through a pipe (-m splice): splice() twice.
    void splice_replies(Connection& c);
    /// Tells epoll what to watch on @p c now, if that changed.
    void update_interest(Connection& c);
    /// Closes @p c; its memory lives until the current batch of events is done.
    void close(Connection& c);

    csd::Fd epoll_;
    csd::Fd listener_;
    ServedFile file_;
    Mode mode_;
    std::vector<std::unique_ptr<Connection>> by_fd_;   // by_fd_[fd]: the client on fd, or null
    std::size_t clients_ = 0;                          // non-null entries of by_fd_
    std::vector<std::unique_ptr<Connection>> closed_;  // closed in this batch: freed after it
    std::array<epoll_event, max_events> events_{};
    std::array<char, 16 * 1024> buffer_{};  // the requests read (and, -m copy, the file bytes)
};

Server::Server(csd::Fd listener, ServedFile file, Mode mode)
    : epoll_(csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      listener_(std::move(listener)),
      file_(std::move(file)),
      mode_(mode) {
    control(EPOLL_CTL_ADD, csd::stop_fd(), EPOLLIN, &stop_tag);  // readable once SIGTERM came
    control(EPOLL_CTL_ADD, listener_.get(), EPOLLIN, &listener_tag);
}

void Server::control(int op, int fd, std::uint32_t events, void* tag) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = tag;
    csd::check(::epoll_ctl(epoll_.get(), op, fd, &event), "epoll_ctl");
}

void Server::run() {
    for (;;) {
        const int ready = ::epoll_wait(epoll_.get(), events_.data(), max_events, -1);
        if (ready < 0 && errno == EINTR) continue;  // a signal: stop_fd() says if it was SIGTERM
        csd::check(ready, "epoll_wait");
        for (std::size_t i = 0; i < static_cast<std::size_t>(ready); ++i) {
            void* const tag = events_[i].data.ptr;
            if (tag == &stop_tag) return;  // ~Server closes every connection
            if (tag == &listener_tag) {
                accept_clients();
            } else {
                Connection& c = *static_cast<Connection*>(tag);
                if (c.fd) on_event(c, events_[i].events);  // not closed earlier in this batch
            }
        }
        closed_.clear();
    }
}

void Server::accept_clients() {
    for (;;) {
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status != csd::AcceptStatus::accepted) return;  // none, or no descriptor
        if (clients_ >= max_clients) continue;  // refused: the socket closes here
        csd::Fd fd = std::move(accepted.connection);
        const auto slot = static_cast<std::size_t>(fd.get());
        if (slot >= by_fd_.size()) by_fd_.resize(slot + 1);
        by_fd_[slot] = std::make_unique<Connection>(std::move(fd));
        ++clients_;
        Connection& c = *by_fd_[slot];
        c.watching = EPOLLIN;
        control(EPOLL_CTL_ADD, c.fd.get(), c.watching, &c);
    }
}

void Server::on_event(Connection& c, std::uint32_t events) {
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        const csd::Pump result = csd::pump_input(c.fd.get(), c.session, buffer_, read_budget);
        if (result == csd::Pump::gone) c.gone = true;
    }
    // TODO(handout step 4): then send what the session owes
    // (send_replies()), whatever epoll reported: after a read there may be
    // new replies, after EPOLLOUT there is room for more. Then end the
    // connection when the client is gone or its session is finished (every
    // reply sent after its half-close, or a malformed request); else tell
    // epoll what to wait for now (update_interest()).
    // SKELETON: (void)&Server::send_replies;  // yours to call
    // SKELETON: (void)&Server::update_interest;
    // SKELETON: close(c);  // for now: no reply, the connection ends at once
    // BEGIN SOLUTION
    if (!c.gone) send_replies(c);
    if (c.gone || c.session.finished()) {
        close(c);
    } else {
        update_interest(c);
    }
    // END SOLUTION
}

void Server::send_replies(Connection& c) {
    if (mode_ == Mode::copy) {
        copy_replies(c);
        return;
    }
    if (mode_ == Mode::splice) {
        splice_replies(c);
        return;
    }
    // TODO(handout step 3): while the session has a reply to send
    // (reply_left() > 0) and less than write_budget went out in this turn:
    //  - the next byte is byte reply_offset() of the reply, so it is in the
    //    file at reply_offset() % file_.size; send at most up to the end of
    //    the file (the next piece starts again at 0), and at most
    //    reply_left();
    //  - sendfile(2), given the offset to start from (not the file's own
    //    offset, which all the connections would share), sends from there
    //    and returns how many bytes went out: often fewer than asked on a
    //    non-blocking socket (a partial send); consume() exactly that many,
    //    so the next piece starts where this one stopped;
    //  - EAGAIN: the socket buffer is full; return, epoll says when it has
    //    room again (EPOLLOUT). EINTR: try again. EPIPE or ECONNRESET: the
    //    client is gone (c.gone = true). Anything else: throw.
    // Until then, no reply is ever sent.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    std::size_t sent = 0;
    while (c.session.reply_left() > 0 && sent < write_budget) {
        const std::uint64_t at = c.session.reply_offset() % file_.size;
        const std::uint64_t count =
            std::min({c.session.reply_left(), file_.size - at, std::uint64_t{write_budget - sent}});
        // sendfile() advances offset, not the file's own position.
        off_t offset = static_cast<off_t>(at);
        const ssize_t n =
            ::sendfile(c.fd.get(), file_.fd.get(), &offset, static_cast<std::size_t>(count));
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // full: wait for EPOLLOUT
            if (errno == EPIPE || errno == ECONNRESET) {
                c.gone = true;
                return;
            }
            csd::check(-1, "sendfile");
        }
        if (n == 0) {  // the file is shorter than it was at the start
            throw std::runtime_error("sendfile: the file " + std::to_string(file_.size) +
                                     " bytes long ended early");
        }
        // n may be less than count: a partial send. Only n bytes are done.
        c.session.consume(static_cast<std::size_t>(n));
        sent += static_cast<std::size_t>(n);
    }
    // END SOLUTION
}

void Server::copy_replies(Connection& c) {
    // TODO(handout step 7): the same replies the old way, the one this lab
    // measures sendfile() against: while a reply is owed and the turn's
    // write_budget is not spent, read the next piece of the file (as in
    // step 3: where it starts, where the file ends) into buffer_ with
    // pread(2), which takes the offset as an argument like sendfile(), and
    // send it (csd::write_some(), the epoll lab's). The socket may take only
    // part of the buffer: consume() exactly that, and the rest is read again
    // from the file next time. would_block: return and wait for EPOLLOUT;
    // the client gone: c.gone.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    std::size_t sent = 0;
    while (c.session.reply_left() > 0 && sent < write_budget) {
        const std::uint64_t at = c.session.reply_offset() % file_.size;
        const std::uint64_t count =
            std::min({c.session.reply_left(), file_.size - at, std::uint64_t{buffer_.size()}});
        const ssize_t got = ::pread(file_.fd.get(), buffer_.data(), static_cast<std::size_t>(count),
                                    static_cast<off_t>(at));
        csd::check(got, "pread");
        if (got == 0) throw std::runtime_error("pread: the file ended early");
        // A partial send: the rest of the buffer is read again next time.
        const csd::WriteResult w = csd::write_some(
            c.fd.get(), std::string_view(buffer_.data(), static_cast<std::size_t>(got)));
        if (w.status == csd::WriteStatus::would_block) return;
        if (w.status == csd::WriteStatus::interrupted) continue;
        if (w.status != csd::WriteStatus::ok) {
            c.gone = true;
            return;
        }
        c.session.consume(w.bytes);
        sent += w.bytes;
    }
    // END SOLUTION
}

void Server::splice_replies(Connection& c) {
    // TODO(handout step 8): the same replies through a pipe of the
    // connection's own, every byte moved by splice(2) inside the kernel:
    // from the file into the pipe (at the offset step 3 works out, passed
    // to the call), then from the pipe into the socket. Make the pipe the
    // first time it is needed, non-blocking; no descriptor left for it
    // (EMFILE, ENFILE): end this client. A byte counts as sent (consume())
    // only once it reached the socket: when the socket is full, what the
    // pipe holds stays there, owed, and goes first next time (fill the
    // pipe again only once it is empty). Errors as in step 3; a file that
    // gives no byte ended early.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    if (!c.pipe_read) {
        std::array<int, 2> ends{};
        if (::pipe2(ends.data(), O_CLOEXEC | O_NONBLOCK) < 0) {
            if (errno != EMFILE && errno != ENFILE) csd::check(-1, "pipe2");
            c.gone = true;  // no descriptor for its pipe: this client ends
            return;
        }
        c.pipe_read = csd::Fd(ends[0]);
        c.pipe_write = csd::Fd(ends[1]);
    }
    std::size_t sent = 0;
    while (c.session.reply_left() > 0 && sent < write_budget) {
        if (c.in_pipe == 0) {  // an empty pipe: fill it with the next bytes owed
            const std::uint64_t at = c.session.reply_offset() % file_.size;
            const std::uint64_t count = std::min(
                {c.session.reply_left(), file_.size - at, std::uint64_t{write_budget - sent}});
            loff_t offset = static_cast<loff_t>(at);
            const ssize_t n = ::splice(file_.fd.get(), &offset, c.pipe_write.get(), nullptr,
                                       static_cast<std::size_t>(count), SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINTR) continue;
            csd::check(n, "splice");
            if (n == 0) throw std::runtime_error("splice: the file ended early");
            c.in_pipe = static_cast<std::size_t>(n);
        }
        const ssize_t n = ::splice(c.pipe_read.get(), nullptr, c.fd.get(), nullptr, c.in_pipe,
                                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the pipe keeps them
            if (errno == EPIPE || errno == ECONNRESET) {
                c.gone = true;
                return;
            }
            csd::check(-1, "splice");
        }
        // Only what reached the socket is sent; the rest stays in the pipe.
        c.in_pipe -= static_cast<std::size_t>(n);
        c.session.consume(static_cast<std::size_t>(n));
        sent += static_cast<std::size_t>(n);
    }
    // END SOLUTION
}

void Server::update_interest(Connection& c) {
    // TODO(handout step 5): a sendfile() that met EAGAIN left a reply owed:
    // wait for room in the socket (EPOLLOUT) while the session has output,
    // and only then (watched with nothing owed, a level-triggered EPOLLOUT
    // wakes the loop at once, again and again); EPOLLIN while it wants
    // input. epoll keeps what it was told: change it (EPOLL_CTL_MOD) only
    // when it differs from c.watching, and remember it there.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    const std::uint32_t wanted =
        (c.session.wants_input() ? EPOLLIN : 0u) | (c.session.has_output() ? EPOLLOUT : 0u);
    if (wanted == c.watching) return;
    control(EPOLL_CTL_MOD, c.fd.get(), wanted, &c);
    c.watching = wanted;
    // END SOLUTION
}

void Server::close(Connection& c) {
    const auto slot = static_cast<std::size_t>(c.fd.get());
    c.fd.reset();
    closed_.push_back(std::move(by_fd_[slot]));
    --clients_;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::CommandLine command_line{
        .flags = {{.letter = 'f',
                   .help = "the file the replies are made of (required)",
                   .value_name = "FILE",
                   .any_value = true},
                  {.letter = 'm',
                   .help = "how the replies leave",
                   .value_name = "MODE",
                   .choices = {"sendfile", "copy", "splice"},
                   .default_value = "sendfile"}}};
    const csd::ServerOptions options = csd::parse_server_options(argc, argv, command_line);
    if (!options.flag('f')) {
        std::cerr << "server: -f FILE is required (the file the replies are made of)\n";
        return 2;
    }
    try {
        ServedFile file = open_served_file(options.value('f'));
        // TODO(handout step 6): a client that resets while sendfile() sends
        // to it raises SIGPIPE, which kills the process: sendfile() has no
        // MSG_NOSIGNAL. Ignore SIGPIPE (then sendfile() fails with EPIPE).
        // BEGIN SOLUTION
        std::signal(SIGPIPE, SIG_IGN);
        // END SOLUTION
        csd::route_signals({SIGTERM, SIGINT});
        const std::string chosen = options.value('m');
        const Mode mode = chosen == "copy"     ? Mode::copy
                          : chosen == "splice" ? Mode::splice
                                               : Mode::sendfile;
        Server server(csd::listen_tcp(options.host, options.port, {.nonblocking = true}),
                      std::move(file), mode);
        csd::announce_listening(options.host, options.port);
        server.run();
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
