// Lab "reactor": -n event loops, one per thread, each with its own epoll
// instance and its own connections (the design of nginx's workers, muduo's
// EventLoop per thread, Seastar's shard per core).
//
// Each loop is the epoll lab's loop: level-triggered, non-blocking sockets,
// csd::Session for the protocol. What is new is that there are several, and
// how a new connection reaches one of them. Two ways, chosen by -m:
//   -m handoff    (default) the main thread is the acceptor: it accepts
//                 every connection and hands it to the loops in turn,
//                 through the loop's inbox (a vector under a mutex) and
//                 its wake-up descriptor (an eventfd).
//   -m reuseport  every loop has a listening socket of its own on the port
//                 (SO_REUSEPORT): the kernel spreads the connections. The
//                 main thread only waits for the stop.
// Either way -n + 1 threads: the loops, and the main thread, the only one
// that takes SIGTERM (the loops are started with it blocked).
// A loop touches only its own connections: the one lock of the server is
// the inbox's, taken by the acceptor to push a connection and by the loop
// to take what was pushed, never while serving. The handout,
// labs/reactor/handout.md, explains every step; the TODOs below name them
// ("handout step N").
//
// Given: the command line, the acceptor's listening socket (-m handoff),
// one epoll_ctl (control()), and what the epoll lab taught: serving one
// connection's events (on_event(): csd::Session and the pumps).
// Yours: the loops and their threads (their signal mask, what a failing
// loop does, stopping and joining them), each loop's state, its epoll
// instance and eventfd, the loop itself, the acceptor, the inbox and the
// hand-over of a connection through it and the eventfd, what a loop does
// when it is woken up, a connection joining and leaving a loop, and (-m
// reuseport) the listening socket of each loop and its own accept loop.

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "csd/lab.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Most loops (-n): each is a thread, an epoll instance and an eventfd.
constexpr int max_loops = 64;
/// Most clients served at once by the whole server, shared evenly by the
/// loops; a loop closes at once the clients beyond its share.
constexpr std::size_t max_clients = 20000;
/// Most bytes read from one client in one turn of a loop.
constexpr std::size_t read_budget = 64 * 1024;
/// Most bytes written to one client in one turn of a loop.
constexpr std::size_t write_budget = 256 * 1024;
/// How long to stop accepting after accept() found no free descriptor.
constexpr auto accept_pause = std::chrono::milliseconds(100);
/// Most events one epoll_wait() hands over.
constexpr int max_events = 256;

/// One client: its socket and its protocol state (as in the epoll lab).
struct Connection {
    csd::Fd fd;                  ///< The connected socket, non-blocking; empty once closed.
    csd::Session session;        ///< What the client asked for and what it is still owed.
    bool gone = false;           ///< The client reset or vanished: close it.
    std::uint32_t watching = 0;  ///< The events epoll watches on fd now.

    /// A new client on the connected socket @p socket.
    explicit Connection(csd::Fd socket) : fd(std::move(socket)) {}
};

/// The epoll events to watch on a connection in state @p s (level-triggered).
std::uint32_t interest(const csd::Session& s) {
    return (s.wants_input() ? EPOLLIN : 0u) | (s.has_output() ? EPOLLOUT : 0u);
}

// What epoll_event.data.ptr holds for the descriptors that are not clients.
char stop_tag;
char listener_tag;
char wakeup_tag;

/// One event loop: an epoll instance, a wake-up eventfd, an inbox of new
/// connections, the connections it serves, and (-m reuseport) a listening
/// socket of its own.
///
/// run() is called by one thread, the loop's own, and everything but the
/// inbox belongs to that thread. hand_over() may be called from any thread
/// (the acceptor's): it is the only member that takes a lock.
class Loop {
  public:
    /// Loop number @p index of the server, serving at most @p capacity
    /// clients; @p listener is its own listening socket (-m reuseport), or
    /// empty when the acceptor hands it its connections (-m handoff).
    Loop(int index, std::size_t capacity, csd::Fd listener);

    /// Runs the loop on the calling thread until a stop is requested
    /// (csd::stop_fd()), then returns. An error ends this loop and asks the
    /// whole server to stop (csd::request_stop()). The connections close
    /// when the Loop is destroyed.
    void run() noexcept;

    /// Gives @p client to this loop: any thread may call it.
    void hand_over(csd::Fd client);

  private:
    /// The loop of run(): returns on a stop, throws on an error.
    void serve();
    /// epoll_ctl(@p op) for @p fd: watch @p events, report them with @p tag.
    void control(int op, int fd, std::uint32_t events, void* tag);
    /// Takes the connections of the inbox (woken by the eventfd).
    void take_inbox();
    /// Starts serving @p fd (or closes it at once beyond capacity_).
    void adopt(csd::Fd fd);
    /// -m reuseport: accepts every client waiting on listener_.
    void accept_clients();
    /// Serves @p c, for which epoll_wait() reported @p events.
    void on_event(Connection& c, std::uint32_t events);
    /// Closes @p c; its memory lives until the current batch of events is done.
    void close(Connection& c);

    int index_;                             // this loop's number, for its messages
    std::size_t capacity_;                  // its share of max_clients
    csd::Fd epoll_;                         // its own epoll instance: its connections only
    csd::Fd listener_;                      // -m reuseport only: its own listening socket
    std::array<char, 16 * 1024> buffer_{};  // on_event()'s reads
    // TODO(handout step 2): what else a loop owns: its connections (by
    // descriptor, as in the epoll lab, how many there are, and those closed
    // during the current batch of events: step 7), its wake-up eventfd
    // (wakeup_), its inbox (inbox_) and the mutex that guards it
    // (inbox_mutex_, step 5), the events one epoll_wait() hands over (step
    // 3), and whether its listener is paused and until when (step 8).
    // BEGIN SOLUTION
    std::vector<std::unique_ptr<Connection>> by_fd_;   // by_fd_[fd]: the client on fd, or null
    std::size_t clients_ = 0;                          // non-null entries of by_fd_
    std::vector<std::unique_ptr<Connection>> closed_;  // closed in this batch: freed after it

    csd::Fd wakeup_;  // eventfd: readable when the inbox has something
    bool accepting_ = true;
    Clock::time_point accept_paused_until_{};
    std::array<epoll_event, max_events> events_{};

    std::mutex inbox_mutex_;      // guards inbox_: the only lock of the server
    std::vector<csd::Fd> inbox_;  // handed over, not yet adopted
    // END SOLUTION
};

Loop::Loop(int index, std::size_t capacity, csd::Fd listener)
    : index_(index), capacity_(capacity), listener_(std::move(listener)) {
    // TODO(handout step 2): this loop's own epoll instance and wake-up
    // eventfd (close-on-exec; the eventfd non-blocking, so that reading it
    // never blocks the loop). Then what the set always watches, each
    // reported with its own tag (the addresses of stop_tag, wakeup_tag,
    // listener_tag, so that serve() tells them from the connections): the
    // stop descriptor (readable for good once a stop came, so that every
    // loop sees it), the loop's eventfd, and its own listening socket when
    // it has one (-m reuseport). control() does one epoll_ctl.
    // SKELETON: (void)stop_tag;  // the tags: yours to use
    // SKELETON: (void)wakeup_tag;
    // SKELETON: (void)listener_tag;
    // BEGIN SOLUTION
    epoll_ = csd::Fd(csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
    wakeup_ = csd::Fd(csd::check(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd"));
    // Every loop watches the stop descriptor: it stays readable once a stop
    // was requested, so each loop sees it in its own epoll_wait().
    control(EPOLL_CTL_ADD, csd::stop_fd(), EPOLLIN, &stop_tag);
    control(EPOLL_CTL_ADD, wakeup_.get(), EPOLLIN, &wakeup_tag);
    if (listener_) control(EPOLL_CTL_ADD, listener_.get(), EPOLLIN, &listener_tag);
    // END SOLUTION
}

void Loop::control(int op, int fd, std::uint32_t events, void* tag) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = tag;
    csd::check(::epoll_ctl(epoll_.get(), op, fd, &event), "epoll_ctl");
}

void Loop::hand_over(csd::Fd client) {
    // TODO(handout step 5): put the client in inbox_ under inbox_mutex_,
    // then write 1 to wakeup_ (an eventfd adds what is written to its
    // counter and is readable while it is not 0): the loop, asleep in
    // epoll_wait(), wakes up. Lock only around the inbox, not the write.
    // Until then, `client` closes here: every client is hung up on.
    // SKELETON: (void)client;
    // BEGIN SOLUTION
    {
        std::lock_guard lock(inbox_mutex_);
        inbox_.push_back(std::move(client));
    }
    const std::uint64_t one = 1;
    // The counter cannot overflow (2^64 - 2): the write never blocks.
    csd::check(::write(wakeup_.get(), &one, sizeof one), "write (eventfd)");
    // END SOLUTION
}

void Loop::take_inbox() {
    // TODO(handout step 6): read wakeup_'s counter (8 bytes: this resets it
    // to 0, so epoll stops reporting it), then swap inbox_ with an empty
    // vector under inbox_mutex_, and adopt() each connection, after the
    // lock is released.
    // SKELETON: (void)&Loop::adopt;  // yours to call
    // BEGIN SOLUTION
    std::uint64_t count = 0;
    if (::read(wakeup_.get(), &count, sizeof count) < 0 && errno != EAGAIN) {
        csd::check(-1, "read (eventfd)");
    }
    std::vector<csd::Fd> taken;
    {
        std::lock_guard lock(inbox_mutex_);
        taken.swap(inbox_);
    }
    for (csd::Fd& fd : taken) adopt(std::move(fd));
    // END SOLUTION
}

void Loop::adopt(csd::Fd fd) {
    // TODO(handout step 7): the client becomes this loop's, and only this
    // loop's. Beyond the loop's share (capacity_), refuse it: it closes
    // when `fd` goes. Otherwise keep it as a Connection in the loop's table
    // (by its descriptor; count it) and add it to this loop's epoll set,
    // watching what its session wants (interest(), noted in `watching`),
    // the Connection itself as its tag.
    // SKELETON: (void)fd;
    // SKELETON: (void)capacity_;
    // BEGIN SOLUTION
    if (clients_ >= capacity_) return;  // refused: `fd` closes here
    const auto slot = static_cast<std::size_t>(fd.get());
    if (slot >= by_fd_.size()) by_fd_.resize(slot + 1);
    by_fd_[slot] = std::make_unique<Connection>(std::move(fd));
    ++clients_;
    Connection& c = *by_fd_[slot];
    c.watching = interest(c.session);
    control(EPOLL_CTL_ADD, c.fd.get(), c.watching, &c);
    // END SOLUTION
}

void Loop::run() noexcept {
    // TODO(handout step 1): a loop's thread runs serve() until it returns.
    // An exception that leaves a thread's function ends the whole process
    // (std::terminate): catch it, say on stderr which loop failed and why,
    // and ask the whole server to stop (csd::request_stop()), since a
    // server with a dead loop leaves its clients unserved.
    // SKELETON: (void)index_;
    // SKELETON: serve();  // until then an error in a loop aborts the process
    // BEGIN SOLUTION
    try {
        serve();
    } catch (const std::exception& e) {
        std::cerr << "loop " << index_ << ": " << e.what() << '\n';
        csd::request_stop();  // a server with a dead loop is not one to keep
    }
    // END SOLUTION
}

void Loop::serve() {
    // TODO(handout step 3): the loop. Sleep in epoll_wait(2) on this loop's
    // set, with no timeout (except while accepting is paused: then until
    // the pause ends, and watch the listener again once it is over);
    // EINTR: go round. For each event, by its tag: the stop descriptor:
    // return (the connections close with the Loop); the eventfd: take the
    // inbox (take_inbox()); the listener: accept_clients(); a connection:
    // on_event(), unless it was closed earlier in the same batch (its fd is
    // then empty). After the batch, free what was closed in it (step 7).
    // SKELETON: (void)&Loop::take_inbox;  // yours to call, with the members below
    // SKELETON: (void)&Loop::accept_clients;
    // SKELETON: (void)&Loop::on_event;
    // SKELETON: // Until then the loop sleeps until a stop, and serves nobody.
    // SKELETON: while (!csd::wait_for_stop(std::chrono::hours(1))) {
    // SKELETON: }
    // BEGIN SOLUTION
    for (;;) {
        if (listener_ && !accepting_ && Clock::now() >= accept_paused_until_) {
            control(EPOLL_CTL_MOD, listener_.get(), EPOLLIN, &listener_tag);
            accepting_ = true;
        }
        int timeout_ms = -1;  // sleep until something happens: no polling
        if (!accepting_) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(accept_paused_until_ - Clock::now());
            timeout_ms = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
        }
        const int ready = ::epoll_wait(epoll_.get(), events_.data(), max_events, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        csd::check(ready, "epoll_wait");
        for (std::size_t i = 0; i < static_cast<std::size_t>(ready); ++i) {
            void* const tag = events_[i].data.ptr;
            if (tag == &stop_tag) {
                return;  // ~Loop closes every connection
            } else if (tag == &wakeup_tag) {
                take_inbox();
            } else if (tag == &listener_tag) {
                accept_clients();
            } else {
                Connection& c = *static_cast<Connection*>(tag);
                if (c.fd) on_event(c, events_[i].events);  // not closed earlier in this batch
            }
        }
        closed_.clear();
    }
    // END SOLUTION
}

void Loop::accept_clients() {
    // TODO(handout step 8): -m reuseport, this loop's own acceptor: accept
    // every client waiting on listener_, without blocking, and adopt each.
    // Out of descriptors (EMFILE, ENFILE): do not spin on a listener that
    // stays readable; say so on stderr and stop watching it for
    // accept_pause (serve() watches it again when the pause is over).
    // BEGIN SOLUTION
    for (;;) {
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            std::cerr << "loop " << index_ << ": " << std::strerror(accepted.error)
                      << "; not accepting for 100 ms\n";
            control(EPOLL_CTL_MOD, listener_.get(), 0, &listener_tag);
            accepting_ = false;
            accept_paused_until_ = Clock::now() + accept_pause;
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;
        adopt(std::move(accepted.connection));
    }
    // END SOLUTION
}

void Loop::on_event(Connection& c, std::uint32_t events) {
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        if (csd::pump_input(c.fd.get(), c.session, buffer_, read_budget) == csd::Pump::gone) {
            c.gone = true;
        }
    }
    if (!c.gone && csd::pump_output(c.fd.get(), c.session, write_budget) == csd::Pump::gone) {
        c.gone = true;
    }
    if (c.gone || c.session.finished()) {
        close(c);
        return;
    }
    const std::uint32_t wanted = interest(c.session);
    if (wanted != c.watching) {
        control(EPOLL_CTL_MOD, c.fd.get(), wanted, &c);
        c.watching = wanted;
    }
}

void Loop::close(Connection& c) {
    // TODO(handout step 7): the client leaves the loop: close its socket
    // (which also takes it out of the epoll set) and forget it (the table
    // no longer holds it, the count is one less). An event for it may still
    // wait further down in the batch serve() is going through: keep the
    // Connection alive, its fd empty, until the batch is done.
    // SKELETON: (void)c;
    // BEGIN SOLUTION
    const auto slot = static_cast<std::size_t>(c.fd.get());
    c.fd.reset();  // also takes the socket out of this loop's epoll set
    closed_.push_back(std::move(by_fd_[slot]));
    --clients_;
    // END SOLUTION
}

/// -m handoff: the calling thread accepts on @p listener and hands each
/// connection to the next of @p loops in turn, until a stop.
void run_acceptor(const csd::Fd& listener, std::vector<std::unique_ptr<Loop>>& loops) {
    // TODO(handout step 4): until a stop, wait for the listener (or the
    // stop) without an epoll set of your own (csd::wait_readable() polls
    // both), then accept every waiting client, without blocking, and hand
    // each to the next loop in turn (hand_over()). Out of descriptors: do
    // not spin, wait accept_pause (or the stop).
    // SKELETON: (void)listener;
    // SKELETON: (void)loops;
    // SKELETON: (void)&Loop::hand_over;  // yours to call
    // BEGIN SOLUTION
    std::size_t next = 0;
    while (!csd::stop_requested()) {
        // Waits in poll() on the listener and csd::stop_fd() together.
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        for (;;) {
            csd::Accepted accepted =
                csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(accept_pause);  // do not spin
                break;
            }
            if (accepted.status == csd::AcceptStatus::nothing) break;
            // Round robin: each loop gets every n-th connection.
            loops[next]->hand_over(std::move(accepted.connection));
            next = (next + 1) % loops.size();
        }
    }
    // END SOLUTION
}

// TODO(handout step 1): what main() needs around the loops' threads,
// for instance two guards: one that blocks SIGTERM and SIGINT in the
// calling thread while it lives and puts its mask back after
// (pthread_sigmask(3): each thread has its own mask, and a new thread
// inherits its creator's); one that requests the stop
// (csd::request_stop()) when it is destroyed, however the scope is left.
// BEGIN SOLUTION
/// Blocks SIGTERM and SIGINT in the calling thread while it lives: the
/// threads started meanwhile inherit the mask, so the signals always go to
/// the main thread, whose handler makes csd::stop_fd() readable.
class SignalsBlocked {
  public:
    SignalsBlocked() {
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        csd::check_rc(::pthread_sigmask(SIG_BLOCK, &stop_signals, &before_), "pthread_sigmask");
    }
    SignalsBlocked(const SignalsBlocked&) = delete;
    SignalsBlocked& operator=(const SignalsBlocked&) = delete;
    ~SignalsBlocked() { (void)::pthread_sigmask(SIG_SETMASK, &before_, nullptr); }

  private:
    sigset_t before_{};  // the calling thread's mask before: restored by the destructor
};

/// Requests a stop when destroyed, however the scope is left (an exception
/// too): declared after the threads, it makes every loop return before the
/// std::jthread destructors join them.
struct StopOnExit {
    StopOnExit() = default;
    StopOnExit(const StopOnExit&) = delete;
    StopOnExit& operator=(const StopOnExit&) = delete;
    ~StopOnExit() { csd::request_stop(); }
};
// END SOLUTION

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{.workers = true,
                         .flags = {csd::LabFlag{.letter = 'm',
                                                .help = "how connections reach the loops",
                                                .value_name = "MODE",
                                                .choices = {"handoff", "reuseport"},
                                                .default_value = "handoff"}}});
    if (options.workers > max_loops) {
        std::cerr << "server: at most " << max_loops << " loops (-n)\n";
        return 2;
    }
    try {
        csd::raise_open_file_limit();
        // SIGTERM and SIGINT make csd::stop_fd() readable for good: every
        // loop watches it in its epoll set, the acceptor in its poll().
        csd::route_signals({SIGTERM, SIGINT});
        const bool reuseport = options.value('m') == "reuseport";
        csd::Fd listener;  // -m handoff: the acceptor's
        if (!reuseport) {
            listener = csd::listen_tcp(options.host, options.port, {.nonblocking = true});
        }
        // TODO(handout step 1): the loops, as many as -n says
        // (options.workers), made once and for all here; each serves at most
        // its share of max_clients (at least one client).
        // TODO(handout step 8): -m reuseport: each loop gets a listening
        // socket of its own on the same port (csd::listen_tcp() with
        // .nonblocking and .reuse_port), which only it watches.
        // SKELETON: std::vector<std::unique_ptr<Loop>> loops;  // one, for now:
        // SKELETON: loops.push_back(std::make_unique<Loop>(0, max_clients, csd::Fd()));
        // BEGIN SOLUTION
        const auto count = static_cast<std::size_t>(options.workers);
        const std::size_t capacity = std::max<std::size_t>(max_clients / count, 1);
        std::vector<std::unique_ptr<Loop>> loops;
        for (std::size_t i = 0; i < count; ++i) {
            csd::Fd own;  // -m handoff: none, the acceptor hands the loop its clients
            if (reuseport) {
                own = csd::listen_tcp(options.host, options.port,
                                      {.nonblocking = true, .reuse_port = true});
            }
            loops.push_back(std::make_unique<Loop>(static_cast<int>(i), capacity, std::move(own)));
        }
        // END SOLUTION
        csd::announce_listening(options.host, options.port);

        // TODO(handout step 1): start a thread per loop, running its run(),
        // born with SIGTERM and SIGINT blocked, so that the main thread
        // alone takes them. However main() is left (an exception too),
        // every loop must be told to stop before its thread is joined: a
        // std::jthread joins when it is destroyed, and locals are destroyed
        // in reverse order.
        // SKELETON: (void)&Loop::run;  // yours to start, a thread per loop
        // BEGIN SOLUTION
        std::vector<std::jthread> threads;
        const StopOnExit stop_all;  // destroyed first: every loop returns, then the joins
        {
            const SignalsBlocked blocked;  // the loops' threads are born with SIGTERM blocked
            for (const auto& loop : loops) threads.emplace_back(&Loop::run, loop.get());
        }
        // END SOLUTION
        // TODO(handout step 4): what the main thread does until the stop:
        // -m handoff, it is the acceptor (run_acceptor()); -m reuseport, the
        // loops accept for themselves, and it only waits for the stop.
        // SKELETON: (void)&run_acceptor;  // yours to call
        // SKELETON: // Until then nobody accepts: the clients wait in the listen queue.
        // SKELETON: while (!csd::wait_for_stop(std::chrono::hours(1))) {
        // SKELETON: }
        // BEGIN SOLUTION
        if (reuseport) {
            while (!csd::wait_for_stop(std::chrono::hours(1))) {
            }
        } else {
            run_acceptor(listener, loops);
        }
        // END SOLUTION
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
