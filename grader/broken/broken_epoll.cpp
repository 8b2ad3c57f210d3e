// An epoll lab server (one process, one thread, one epoll instance,
// non-blocking sockets; its clients watched level-triggered, or with -e
// edge-triggered) that is correct except for the one bug its name says
// (broken-BUG, see broken_bug.hpp). grader/broken/CMakeLists.txt links
// broken-<bug> to this one program for each bug. Both bugs live in the
// edge-triggered mode only: in the checks csd-grade runs with -e (the
// lab's mode et in labs/labs.txt: bytes, pipeline, many) each fails the
// check named below; without -e the same program is a correct
// level-triggered server and passes every check.
//
// The bugs, each with the check that must catch it (run with -e):
//   et-budget-forgets  a connection whose read or write budget ran out
//                      before EAGAIN (csd::Pump::more) is not remembered
//                      for a later turn. No new edge comes for what is
//                      left, so a reply longer than one turn's budget
//                      (256 KiB) stalls for good: the 16 MiB reply   -> bytes
//   et-accept-once     the listener is watched edge-triggered too, and
//                      only one connection is accepted per event (no
//                      accept loop until EAGAIN): connections that
//                      arrive together share one edge, and the ones
//                      left in the listen queue wait for good        -> many
//   et-ignored         -e accepted and ignored: the clients are watched
//                      level-triggered in both modes (correct replies, no
//                      edge-triggered code written)                  -> modes
//   et-unbounded       -e: writes to a client until EAGAIN, with no budget: a
//                      client that reads fast keeps the loop for itself -> modes
//   epoll-lt           no bug: correct in both modes (the control)
// pipeline catches neither: its pipelined replies (167 KiB in all) fit in one turn's write
// budget, and it opens one connection at a time.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
//   A reply left behind when the turn's budget ran out: no new edge comes.
// test: et-budget-forgets epoll bytes control pipeline
//   One turn of an edge-triggered loop writes at most a budget to a client.
// test: et-unbounded epoll modes control pipeline
//   One accept per edge of the listener: a burst leaves clients in the queue.
// test: et-accept-once epoll many control pipeline
//   -e that changes nothing: only the interest lists tell.
// test: et-ignored epoll modes control pipeline
#include <sys/epoll.h>

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
#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this program gets wrong ("epoll-lt": nothing), set first
/// thing in main().
std::string_view bug;

using Clock = std::chrono::steady_clock;

/// Most bytes read from one client in one turn (as in the solution).
constexpr std::size_t read_budget = 64 * 1024;
/// Most bytes written to one client in one turn (as in the solution).
constexpr std::size_t write_budget = 256 * 1024;
/// How long the listener is left unwatched after EMFILE or ENFILE.
constexpr auto accept_pause = std::chrono::milliseconds(100);
/// Most clients at once; the ones beyond are accepted and closed at once.
constexpr std::size_t max_clients = 20000;
/// Most events taken from one epoll_wait().
constexpr int max_events = 256;

/// One connected client.
struct Client {
    csd::Fd socket;            ///< Non-blocking; empty once the client is retired.
    csd::Session session;      ///< The requests read and the replies owed.
    bool gone = false;         ///< The client reset or vanished.
    std::uint32_t events = 0;  ///< Level-triggered: what epoll watches on socket now.
    bool readable = false;     ///< -e: an edge said readable, no read hit EAGAIN since.
    bool writable = false;     ///< -e: an edge said writable, no write hit EAGAIN since.
    bool queued = false;       ///< -e: in EpollServer::unfinished_ (or in its replay).

    /// A client on the connected socket @p s.
    explicit Client(csd::Fd s) : socket(std::move(s)) {}
};

/// Level-triggered interest in a client whose session is @p s: reading
/// while it takes input (back-pressure), writing while a reply is owed.
std::uint32_t level_interest(const csd::Session& s) {
    std::uint32_t events = 0;
    if (s.wants_input()) events |= EPOLLIN;
    if (s.has_output()) events |= EPOLLOUT;
    return events;
}

// The data.ptr of the two descriptors that are not clients (a client's is
// its Client*): the address of one of these.
char stop_mark;
char listen_mark;

/// The event loop: the epoll instance, the listener and every client.
/// One thread; nothing blocks but epoll_wait().
class EpollServer {
  public:
    /// Serves the clients of @p listener (non-blocking, listening);
    /// @p edge: -e, clients watched edge-triggered.
    EpollServer(csd::Fd listener, bool edge);

    /// Serves until SIGTERM or SIGINT; the clients close with the server.
    void serve();

  private:
    /// epoll_ctl(@p op) on @p fd for @p events, reported with @p mark.
    void control(int op, int fd, std::uint32_t events, void* mark);
    /// What epoll watches on the listener while accepting.
    [[nodiscard]] std::uint32_t listener_events() const;
    /// The epoll_wait() timeout in milliseconds for the next wait.
    [[nodiscard]] int next_timeout() const;
    /// Accepts what the listen queue holds (et-accept-once with -e: one).
    void accept_waiting();
    /// Starts serving @p s, or closes it beyond max_clients.
    void adopt(csd::Fd s);
    /// Level-triggered: serves @p c, reported with @p events.
    void level_turn(Client& c, std::uint32_t events);
    /// Edge-triggered: serves @p c as far as its flags and the budgets go,
    /// and remembers it if it stopped on a budget rather than on EAGAIN.
    void edge_turn(Client& c);
    /// Reads into @p c's session, within read_budget; the pump's verdict.
    csd::Pump read_from(Client& c);
    /// Writes what @p c is owed, within write_budget; the pump's verdict.
    csd::Pump write_to(Client& c);
    /// Closes @p c; its memory stays until the end of the current batch,
    /// for events of the batch that still point to it.
    void retire(Client& c);

    bool edge_;
    csd::Fd epoll_;
    csd::Fd listener_;
    bool accepting_ = true;  // the listener is watched
    Clock::time_point resume_at_{};
    std::vector<std::unique_ptr<Client>> clients_;  // clients_[fd]: the client on fd, or null
    std::size_t count_ = 0;                         // non-null entries of clients_
    std::vector<std::unique_ptr<Client>> retired_;  // closed in this batch
    std::vector<Client*> unfinished_;               // -e: a budget ran out before EAGAIN
    std::vector<Client*> replay_;                   // -e: unfinished_ taken for this batch
    std::array<epoll_event, max_events> ready_{};
    std::array<char, 16 * 1024> scratch_{};  // read buffer, shared
};

EpollServer::EpollServer(csd::Fd listener, bool edge)
    : edge_(edge && bug != "et-ignored"),
      epoll_(csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      listener_(std::move(listener)) {
    // The stop descriptor stays readable once a stop came: level-triggered.
    control(EPOLL_CTL_ADD, csd::stop_fd(), EPOLLIN, &stop_mark);
    control(EPOLL_CTL_ADD, listener_.get(), listener_events(), &listen_mark);
}

void EpollServer::control(int op, int fd, std::uint32_t events, void* mark) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = mark;
    csd::check(::epoll_ctl(epoll_.get(), op, fd, &event), "epoll_ctl");
}

std::uint32_t EpollServer::listener_events() const {
    // Correct in both modes: level-triggered, and every waiting client is
    // accepted at each wakeup. The bug watches it edge-triggered with -e.
    if (edge_ && bug == "et-accept-once") return EPOLLIN | EPOLLET;
    return EPOLLIN;
}

int EpollServer::next_timeout() const {
    // Clients left unfinished by a budget: look for new events, do not sleep.
    if (!unfinished_.empty()) return 0;
    if (accepting_) return -1;  // sleep until something happens
    // Accepting is paused: wake up when the pause ends.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(resume_at_ - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(left.count(), 0));
}

void EpollServer::serve() {
    for (;;) {
        if (!accepting_ && Clock::now() >= resume_at_) {
            control(EPOLL_CTL_MOD, listener_.get(), listener_events(), &listen_mark);
            accepting_ = true;
        }
        const int ready = ::epoll_wait(epoll_.get(), ready_.data(), max_events, next_timeout());
        if (ready < 0 && errno == EINTR) continue;  // the stop descriptor says if it was a stop
        csd::check(ready, "epoll_wait");
        // The clients left unfinished last time are served after this batch.
        replay_.swap(unfinished_);

        for (std::size_t i = 0; i < static_cast<std::size_t>(ready); ++i) {
            void* const mark = ready_[i].data.ptr;
            if (mark == &stop_mark) return;
            if (mark == &listen_mark) {
                accept_waiting();
                continue;
            }
            Client& c = *static_cast<Client*>(mark);
            if (!c.socket) continue;  // retired earlier in this batch: a stale event
            if (edge_) {
                // An edge is reported once: keep it until EAGAIN. An error
                // or a hang-up lets both directions find out which.
                const std::uint32_t events = ready_[i].events;
                if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) c.readable = true;
                if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) c.writable = true;
                edge_turn(c);
            } else {
                level_turn(c, ready_[i].events);
            }
        }
        for (Client* c : replay_) {
            c->queued = false;
            if (c->socket) edge_turn(*c);
        }
        replay_.clear();
        retired_.clear();  // no event of this batch points to them any more
    }
}

void EpollServer::accept_waiting() {
    const bool one_only = edge_ && bug == "et-accept-once";
    do {
        csd::Accepted accepted = csd::accept_connection(listener_.get(), csd::IoMode::nonblocking);
        if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
            // The listen queue stays full and the listener readable: stop
            // watching it for a while rather than wake up for it at once.
            std::cerr << "server: " << std::strerror(accepted.error)
                      << "; not accepting for 100 ms\n";
            control(EPOLL_CTL_MOD, listener_.get(), 0, &listen_mark);
            accepting_ = false;
            resume_at_ = Clock::now() + accept_pause;
            return;
        }
        if (accepted.status == csd::AcceptStatus::nothing) return;  // the queue is empty
        adopt(std::move(accepted.connection));
    } while (!one_only);  // et-accept-once: the rest of the queue waits for another edge
}

void EpollServer::adopt(csd::Fd s) {
    if (count_ >= max_clients) return;  // refused: `s` closes here
    const auto slot = static_cast<std::size_t>(s.get());
    if (slot >= clients_.size()) clients_.resize(slot + 1);
    clients_[slot] = std::make_unique<Client>(std::move(s));
    ++count_;
    Client& c = *clients_[slot];
    // Edge-triggered: both directions from the start to the close, no MOD.
    c.events = edge_ ? EPOLLIN | EPOLLOUT | EPOLLET : level_interest(c.session);
    control(EPOLL_CTL_ADD, c.socket.get(), c.events, &c);
}

void EpollServer::level_turn(Client& c, std::uint32_t events) {
    // EPOLLERR and EPOLLHUP come unasked: the read says what they mean.
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) (void)read_from(c);
    // A reply usually follows a read, and the socket is usually writable.
    if (!c.gone) (void)write_to(c);
    if (c.gone || c.session.finished()) {
        retire(c);
        return;
    }
    // Tell epoll only what changed.
    const std::uint32_t wanted = level_interest(c.session);
    if (wanted != c.events) {
        control(EPOLL_CTL_MOD, c.socket.get(), wanted, &c);
        c.events = wanted;
    }
}

void EpollServer::edge_turn(Client& c) {
    // `drained` (EAGAIN, or EOF for a read) clears a flag: the next edge
    // sets it again. `more` (a budget spent) leaves it set.
    if (c.readable && read_from(c) == csd::Pump::drained) c.readable = false;
    if (!c.gone && c.writable && write_to(c) == csd::Pump::drained) c.writable = false;
    if (c.gone || c.session.finished()) {
        retire(c);
        return;
    }
    // Work left on a side that has not reached EAGAIN: no edge will come
    // for it, so come back to it after the others had their turn.
    const bool unfinished =
        (c.readable && c.session.wants_input()) || (c.writable && c.session.has_output());
    if (!unfinished || c.queued) return;
    if (bug == "et-budget-forgets") return;  // the bug: forgotten until the client sends more
    c.queued = true;
    unfinished_.push_back(&c);
}

csd::Pump EpollServer::read_from(Client& c) {
    // Reads while the session takes input (back-pressure), until EAGAIN,
    // EOF (end_of_input()) or read_budget bytes.
    const csd::Pump result = csd::pump_input(c.socket.get(), c.session, scratch_, read_budget);
    if (result == csd::Pump::gone) c.gone = true;
    return result;
}

csd::Pump EpollServer::write_to(Client& c) {
    // Writes while a reply is owed, until EAGAIN or write_budget bytes.
    // et-unbounded: as much as the socket takes, however long that lasts.
    const std::size_t budget =
        edge_ && bug == "et-unbounded" ? std::numeric_limits<std::size_t>::max() : write_budget;
    const csd::Pump result = csd::pump_output(c.socket.get(), c.session, budget);
    if (result == csd::Pump::gone) c.gone = true;
    return result;
}

void EpollServer::retire(Client& c) {
    const auto slot = static_cast<std::size_t>(c.socket.get());
    c.socket.reset();  // closing it also takes it out of the epoll set
    retired_.push_back(std::move(clients_[slot]));
    --count_;
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0], "et-budget-forgets et-accept-once et-ignored et-unbounded epoll-lt");
    const csd::CommandLine command_line{
        .flags = {csd::LabFlag{.letter = 'e', .help = "watch clients edge-triggered (EPOLLET)"}}};
    const csd::ServerOptions options = csd::parse_server_options(argc, argv, command_line);
    try {
        csd::raise_open_file_limit();  // 10,000 clients at once
        // SIGTERM and SIGINT make csd::stop_fd() readable for good.
        csd::route_signals({SIGTERM, SIGINT});
        EpollServer server(csd::listen_tcp(options.host, options.port, {.nonblocking = true}),
                           options.flag('e'));
        csd::announce_listening(options.host, options.port);
        server.serve();
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
