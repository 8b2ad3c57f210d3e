// A thread-lab server (a thread per client, detached) whose reads and
// writes go through io_uring rather than read() and write(): strace shows
// who submits to a ring, not which connection each request is for. Named
// broken-BUG (broken_bug.hpp); grader/broken/CMakeLists.txt builds it only
// where liburing was found.
//
//   thread-ring-decoy  each connection thread only waits until its socket
//                      has input (poll) and hands it to one I/O thread,
//                      started with the server, which receives and sends
//                      for every client through its own ring (the fourth
//                      red-team of issue 20: full marks)           -> architecture
//   thread-ring-each   no bug: each connection thread receives and sends
//                      for its own client through a ring of its own (a
//                      correct variant: full marks)
//
// test: thread-ring-decoy thread architecture control pipeline
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "broken_bug.hpp"
#include "csd/lab.hpp"
#include "csd/uring.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

/// The result of one request on @p ring, which must be idle: submits it
/// and waits for its completion (again after a signal, or a tracer's
/// attach, interrupted the wait).
int complete_one(csd::Ring& ring) {
    csd::check_uring(::io_uring_submit(ring.get()), "io_uring_submit");
    io_uring_cqe* cqe = nullptr;
    int rc = 0;
    while ((rc = ::io_uring_wait_cqe(ring.get(), &cqe)) == -EINTR) {
    }
    csd::check_uring(rc, "io_uring_wait_cqe");
    const int res = cqe->res;
    ::io_uring_cqe_seen(ring.get(), cqe);
    return res;
}

/// Receives once from @p fd through @p ring, feeds it to @p session and
/// sends every byte it owes, also through @p ring. False once the client
/// is done or gone.
bool serve_once(csd::Ring& ring, int fd, csd::Session& session) {
    char in[4096];
    const std::size_t want = std::min(sizeof in, session.input_room());
    if (session.wants_input()) {
        ::io_uring_prep_recv(&ring.next_sqe(), fd, in, want, 0);
        const int got = complete_one(ring);
        if (got < 0) return false;
        if (got == 0) {
            session.end_of_input();
        } else {
            (void)session.feed(std::string_view(in, static_cast<std::size_t>(got)));
        }
    }
    while (session.has_output()) {
        const std::string_view out = session.output();
        ::io_uring_prep_send(&ring.next_sqe(), fd, out.data(), out.size(), MSG_NOSIGNAL);
        const int sent = complete_one(ring);
        if (sent < 0) return false;
        session.consume(static_cast<std::size_t>(sent));
    }
    return !session.finished();
}

/// thread-ring-decoy: the one thread that receives and sends for every
/// client, through its ring. Any thread, under mutex.
class RingIo {
  public:
    /// Has the I/O thread serve what @p fd has now; serve_once()'s result.
    bool serve(int fd, csd::Session& session) {
        Job job{.fd = fd, .session = &session};
        std::unique_lock lock(mutex_);
        queue_.push_back(&job);
        changed_.notify_all();
        changed_.wait(lock, [&] { return job.done; });
        return job.more;
    }

    /// The I/O thread's loop (never returns: it ends with the process).
    [[noreturn]] void run() {
        csd::Ring ring(8);
        for (;;) {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return !queue_.empty(); });
            Job* job = queue_.front();
            queue_.pop_front();
            lock.unlock();
            const bool more = serve_once(ring, job->fd, *job->session);
            lock.lock();
            job->more = more;
            job->done = true;
            changed_.notify_all();
        }
    }

  private:
    struct Job {
        int fd = -1;
        csd::Session* session = nullptr;
        bool done = false;
        bool more = false;
    };
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Job*> queue_;
};

/// Serves the client on @p fd until it is done, in its own thread.
void serve(int fd, RingIo* decoy) {
    csd::Session session;
    if (decoy == nullptr) {
        csd::Ring ring(8);
        while (serve_once(ring, fd, session)) {
        }
        return;
    }
    for (;;) {
        if (session.wants_input()) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, -1) < 0) continue;  // a signal: wait again
        }
        if (!decoy->serve(fd, session)) return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0], "thread-ring-decoy thread-ring-each");
    const csd::ServerOptions opts = csd::parse_server_options(argc, argv);
    csd::route_signals({SIGTERM, SIGINT});
    csd::ignore_sigpipe();
    if (const std::string why = csd::io_uring_unavailable(); !why.empty()) {
        std::cerr << "server: io_uring is not available here: " << why << '\n';
        return 1;
    }
    RingIo* decoy = nullptr;
    if (bug == "thread-ring-decoy") {
        decoy = new RingIo;  // lives as long as the process
        std::thread([decoy] { decoy->run(); }).detach();
    }
    const csd::Fd listener = csd::listen_tcp(opts.host, opts.port);
    csd::announce_listening(opts.host, opts.port);
    while (!csd::stop_requested()) {
        if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
        if (csd::Fd conn = csd::accept_connection(listener.get()).connection) {
            std::thread([c = std::move(conn), decoy]() mutable {
                serve(c.get(), decoy);
                c.reset();
            }).detach();
        }
    }
    return 0;
}
