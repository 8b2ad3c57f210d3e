// An io_uring lab server (one ring, one csd::Session per client, a plain recv
// into each client's own buffer) that is correct except for the one bug
// its name says (broken-BUG, see broken_bug.hpp). grader/broken/CMakeLists.txt
// links broken-<bug> to this one program for each bug and checks that csd-grade fails exactly the
// check that bug is about.
//
// The bugs, each with the check that must catch it:
//   ring-timeout  waits for completions with a 2 ms timeout: a sleep loop
//                 when idle, though it sleeps in io_uring_enter()         -> syscall
//   ring-thread   starts a second thread of its own, which it names
//                 "iou-wrk-1" like io_uring's kernel workers               -> architecture
//   send-syscall  receives through the ring, but sends each reply itself,
//                 with send() calls in a loop                              -> ring-io
//   pwritev2-syscall  the same with pwritev2(fd, iov, 1, -1, 0), which on a
//                 socket is a plain write under another name              -> ring-io
//   send-syscall-unwatched  sends through the ring while a tracer seems
//                 attached (broken::tracer_by_timing(), when the client
//                 comes), with send() calls otherwise: ring-io's perf
//                 witness sees them                                      -> ring-io
//   accept-no-rearm  a multishot accept ended by an error (EMFILE) is never
//                 submitted again: no client is accepted after it         -> emfile
//   emfile-retry-1ms  out of descriptors, pauses 1 ms, not 100, between
//                 two tries: 1000 wakeups a second                       -> emfile
//   emfile-sleeps  out of descriptors, the loop sleeps 100 ms (usleep), then
//                 submits the accept again: every served client waits too -> emfile
//   emfile-spin   out of descriptors, submits the accept again at once
//                 instead of pausing: it fails again at once, a spin      -> emfile
//   ring-timer-4600ms  keeps a 4.6 s timeout request in its ring, again
//                 each time it ends: a timer loop slower than idle-cpu's
//                 window, and no timeout in its io_uring_enter()         -> idle-cpu
//   ring-wait-4600ms  waits for completions with a 4.6 s timeout (the
//                 timeout in io_uring_enter()'s IORING_ENTER_EXT_ARG)     -> idle-cpu
//   accept-single-shot  one single-shot accept request, submitted again
//                 after each connection                                  -> ring-io
//   no-stop-poll  no request on the stop descriptor: the loop looks at the
//                 stop flag before io_uring_enter() and counts on EINTR
//                 (a signal between the two is missed)                   -> ring-io
// Out of descriptors, the others pause 100 ms (a timeout on the ring),
// then accept again.
// And one that is no bug, for the architecture check to pass:
//   recv-own-buffer  each recv into a buffer of the client's own, not a
//                 provided buffer (no IOSQE_BUFFER_SELECT)                 -> ring-io
//   ring-async    every recv is forced to io_uring's kernel workers
//                 (IOSQE_ASYNC): iou-wrk threads come and go in /proc/PID/task
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: ring-thread uring architecture control pipeline
// test: ring-timeout uring syscall control pipeline
// test: send-syscall uring ring-io control pipeline
//   The same writes under another name (issue 20: it had full marks).
// test: pwritev2-syscall uring ring-io control pipeline
//   The same only while no strace seems attached (issue 20: a red-team's
//   cheat had full marks). Caught where perf can record.
// test: send-syscall-unwatched uring ring-io control pipeline
//   Out of descriptors (issue 20: an accept never re-armed had full marks).
// test: accept-no-rearm uring emfile control pipeline
//   Receives into the server's own memory (issue 20: full marks).
// test: recv-own-buffer uring ring-io control pipeline
// test: emfile-spin uring emfile control pipeline
//   A pause of a millisecond: little CPU, a retry loop all the same (the
//   fifth red-team of issue 20: full marks).
// test: emfile-retry-1ms uring emfile control pipeline
//   The pause as a sleep of the whole loop (the seventh red-team: full marks).
// test: emfile-sleeps uring emfile control pipeline
//   Timer loops slower than the idle window, the timer in the ring or in
//   the wait's argument (the fifth red-team of issue 20: full marks).
// test: ring-timer-4600ms uring idle-cpu control pipeline
// test: ring-wait-4600ms uring idle-cpu control pipeline
//   Not the handout's first requests (the sixth red-team of issue 20: full
//   marks): seen in the SQE array of a fresh ring.
// test: accept-single-shot uring ring-io control pipeline
// test: no-stop-poll uring ring-io control pipeline
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"
#include "csd/uring.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

enum Kind : std::uint64_t {
    accept_kind = 0,
    stop_kind = 1,
    recv_kind = 2,
    send_kind = 3,
    pause_kind = 4,
    tick_kind = 5,
};
constexpr std::uint64_t kind_mask = 7;

struct alignas(8) Client {
    csd::Fd fd;
    csd::Session session;
    char in[4096] = {};
    std::string out;
    std::size_t sent = 0;
    bool own_sends = false;  // sends by calls of its own (the send-syscall bugs)
    bool receiving = false;
    bool sending = false;
    bool gone = false;
};

class Server {
  public:
    explicit Server(csd::Fd listener) : ring_(256), listener_(std::move(listener)) {
        if (bug != "no-stop-poll") {
            io_uring_sqe& stop = ring_.next_sqe();
            ::io_uring_prep_poll_add(&stop, csd::stop_fd(), POLLIN);
            ::io_uring_sqe_set_data64(&stop, stop_kind);
        }
        accept();
        if (bug == "ring-timer-4600ms") tick();
    }

    void run() {
        for (;;) {
            if (bug == "no-stop-poll" && csd::stop_requested()) return;  // the bug: a window
            if (bug == "ring-timeout" || bug == "ring-wait-4600ms") {
                __kernel_timespec limit{0, 2'000'000};
                if (bug == "ring-wait-4600ms") limit = {4, 600'000'000};
                io_uring_cqe* first = nullptr;
                const int rc =
                    ::io_uring_submit_and_wait_timeout(ring_.get(), &first, 1, &limit, nullptr);
                if (rc < 0 && rc != -ETIME && rc != -EINTR) csd::check_uring(rc, "wait");
            } else {
                ring_.submit_and_wait();
            }
            io_uring_cqe* cqe = nullptr;
            while (::io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
                const io_uring_cqe c = *cqe;
                ::io_uring_cqe_seen(ring_.get(), cqe);
                auto* client = reinterpret_cast<Client*>(c.user_data & ~kind_mask);
                switch (static_cast<Kind>(c.user_data & kind_mask)) {
                    case stop_kind:
                        return;
                    case accept_kind:
                        if (c.res >= 0) {
                            clients_.push_back(std::make_unique<Client>());
                            clients_.back()->fd = csd::Fd(c.res);
                            clients_.back()->own_sends =
                                bug == "send-syscall" || bug == "pwritev2-syscall" ||
                                (bug == "send-syscall-unwatched" && !broken::tracer_by_timing());
                            serve(*clients_.back());
                        }
                        if ((c.flags & IORING_CQE_F_MORE) == 0) {
                            if (c.res < 0 && bug == "accept-no-rearm") break;
                            if (c.res < 0 && csd::out_of_descriptors(-c.res) &&
                                bug == "emfile-sleeps") {
                                // The bug: the whole loop sleeps, its clients too.
                                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                                accept();
                            } else if (c.res < 0 && csd::out_of_descriptors(-c.res) &&
                                       bug != "emfile-spin") {
                                pause();
                            } else {
                                accept();
                            }
                        }
                        break;
                    case pause_kind:
                        accept();
                        break;
                    case tick_kind:
                        tick();  // the bug: look around, then wait for the time again
                        break;
                    case recv_kind:
                        client->receiving = false;
                        if (const int id = csd::BufferRing::buffer_id(c.flags);
                            c.res > 0 && id >= 0) {
                            (void)client->session.feed(buffers_.bytes(
                                static_cast<unsigned>(id), static_cast<std::size_t>(c.res)));
                            buffers_.give_back(static_cast<unsigned>(id));
                        } else if (c.res > 0) {
                            (void)client->session.feed(
                                std::string_view(client->in, static_cast<std::size_t>(c.res)));
                        } else if (c.res == 0) {
                            client->session.end_of_input();
                        } else {
                            client->gone = true;
                        }
                        serve(*client);
                        break;
                    case send_kind:
                        client->sending = false;
                        if (c.res >= 0) {
                            client->sent += static_cast<std::size_t>(c.res);
                        } else {
                            client->gone = true;
                        }
                        serve(*client);
                        break;
                }
            }
        }
    }

  private:
    void tick() {
        io_uring_sqe& sqe = ring_.next_sqe();
        ::io_uring_prep_timeout(&sqe, &tick_, 0, 0);
        ::io_uring_sqe_set_data64(&sqe, tick_kind);
    }

    void pause() {
        io_uring_sqe& sqe = ring_.next_sqe();
        ::io_uring_prep_timeout(&sqe, &pause_, 0, 0);
        ::io_uring_sqe_set_data64(&sqe, pause_kind);
    }

    void accept() {
        io_uring_sqe& sqe = ring_.next_sqe();
        if (bug == "accept-single-shot") {
            ::io_uring_prep_accept(&sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        } else {
            ::io_uring_prep_multishot_accept(&sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        }
        ::io_uring_sqe_set_data64(&sqe, accept_kind);
    }

    void serve(Client& c) {
        if (!c.gone && !c.sending) {
            const bool own_sends = c.own_sends;
            if (!own_sends && c.sent == c.out.size() && c.session.has_output()) {
                c.out.clear();
                c.sent = 0;
                while (c.out.size() < 65536 && c.session.has_output()) {
                    const std::string_view bytes = c.session.output();
                    const std::size_t take = std::min(bytes.size(), 65536 - c.out.size());
                    c.out.append(bytes.substr(0, take));
                    c.session.consume(take);
                }
            }
            if (own_sends) {  // every byte owed, now, by calls of its own
                while (!c.gone && c.session.has_output()) {
                    const std::string_view bytes = c.session.output();
                    iovec iov{.iov_base = const_cast<char*>(bytes.data()), .iov_len = bytes.size()};
                    const ssize_t n =
                        bug != "pwritev2-syscall"
                            ? ::send(c.fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL)
                            : ::pwritev2(c.fd.get(), &iov, 1, -1, 0);
                    if (n < 0) {
                        c.gone = true;
                    } else {
                        c.session.consume(static_cast<std::size_t>(n));
                    }
                }
            }
            if (c.sent < c.out.size() && !c.gone) {
                io_uring_sqe& sqe = ring_.next_sqe();
                ::io_uring_prep_send(&sqe, c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent,
                                     MSG_NOSIGNAL);
                ::io_uring_sqe_set_data64(&sqe, reinterpret_cast<std::uintptr_t>(&c) | send_kind);
                c.sending = true;
            }
        }
        if (!c.gone && !c.receiving && c.session.wants_input()) {
            io_uring_sqe& sqe = ring_.next_sqe();
            const std::size_t want = std::min(sizeof c.in, c.session.input_room());
            if (bug == "recv-own-buffer") {
                ::io_uring_prep_recv(&sqe, c.fd.get(), c.in, want, 0);
            } else {  // the kernel picks a provided buffer when data comes
                ::io_uring_prep_recv(&sqe, c.fd.get(), nullptr, want, 0);
                sqe.flags |= IOSQE_BUFFER_SELECT;
                sqe.buf_group = buffers_.group();
            }
            if (bug == "ring-async") sqe.flags |= IOSQE_ASYNC;  // after prep: it clears flags
            ::io_uring_sqe_set_data64(&sqe, reinterpret_cast<std::uintptr_t>(&c) | recv_kind);
            c.receiving = true;
        }
        const bool done = c.gone || (c.session.finished() && c.sent == c.out.size());
        if (done && !c.receiving && !c.sending) {
            const auto it = std::find_if(clients_.begin(), clients_.end(),
                                         [&](const auto& p) { return p.get() == &c; });
            clients_.erase(it);  // closes the socket
        }
    }

    csd::Ring ring_;
    csd::BufferRing buffers_{ring_, 1, 64, 4096};
    csd::Fd listener_;
    // Read by the kernel while a pause runs (emfile-retry-1ms: a millisecond).
    __kernel_timespec pause_{0, bug == "emfile-retry-1ms" ? 1'000'000 : 100'000'000};
    __kernel_timespec tick_{4, 600'000'000};  // ring-timer-4600ms
    std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "ring-timeout ring-thread send-syscall pwritev2-syscall send-syscall-unwatched ring-async "
        "accept-no-rearm emfile-retry-1ms "
        "emfile-spin emfile-sleeps recv-own-buffer ring-timer-4600ms ring-wait-4600ms "
        "accept-single-shot "
        "no-stop-poll");
    const csd::ServerOptions opts = csd::parse_server_options(argc, argv);
    csd::route_signals({SIGTERM, SIGINT});
    std::thread helper;
    if (bug == "ring-thread") {
        helper = std::thread([] {
            ::pthread_setname_np(::pthread_self(), "iou-wrk-1");
            pollfd stop{csd::stop_fd(), POLLIN, 0};
            while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
            }
        });
    }
    {
        Server server(csd::listen_tcp(opts.host, opts.port, {.nonblocking = true}));
        csd::announce_listening(opts.host, opts.port);
        server.run();
    }
    if (helper.joinable()) helper.join();
    return 0;
}
