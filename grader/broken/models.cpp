// Small servers of the designs the coming labs ask for, one program whose
// design is named by the name it is started by (model-DESIGN, see
// broken_bug.hpp); they prove the grader's architecture models
// (a correct design passes its model, another design fails it):
//   prefork        -n workers, each calling accept() on the shared listener
//   prefork-leaks  the same, but a worker leaks a descriptor per connection
//   reuseport      -n workers, each calling accept() on a listening socket of
//                  its own (SO_REUSEPORT), opened by the parent before the fork
//   reuseport-forks  the same, but a worker forks a child per connection
//   reuseport-parent-listens  the same as reuseport, but the parent keeps a
//                  listening socket on the port too (and never accepts)
//   fdpass         the parent accepts and passes each socket to one of -n workers
//   fdpass-keeps   the same, but the parent keeps its copy of every socket
//   fdpass-shares-channels  the same as fdpass, but a worker keeps the
//                  parent's ends of the channels of the workers forked before it
//   fdpass-leaks-channel  the same as fdpass, but when a worker dies (it is
//                  replaced, as in every fdpass model) the parent never closes
//                  the dead worker's channel
//   fdpass-pidfd   the same as fdpass, but no SCM_RIGHTS: the parent sends a
//                  socket's number, the worker copies the socket out of the
//                  parent with pidfd_getfd() and says so, then the parent
//                  closes its copy (the sixth red-team of issue 20: full marks)
//   fork           a new child per connection
//   thread         a new (detached) thread per connection, waited for at the
//                  stop
//   prethread      -n threads, each calling accept()
// Every one stops on SIGTERM within 2 s and exits 0 with its children reaped.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "fd_passing.hpp"
#include "test_server.hpp"

namespace {

using namespace test_server;

/// The design this server has, set first thing in main().
std::string_view design;

// Waits up to 100 ms for a connection on @p listener; -1 when none (or a stop).
int accept_within_100ms(int listener) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) return -1;
    return ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Ends and reaps @p children.
int end_children(const std::vector<pid_t>& children) {
    for (const pid_t pid : children) ::kill(pid, SIGTERM);
    for (const pid_t pid : children) ::waitpid(pid, nullptr, 0);
    return 0;
}

// A child process: default SIGTERM (it just ends), then @p body.
template <typename Body>
pid_t fork_child(Body body) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        ::signal(SIGTERM, SIG_DFL);
        body();
        ::_exit(0);
    }
    return pid;
}

int run_prefork(int listener, int n) {
    std::vector<pid_t> children;
    for (int i = 0; i < n; ++i) {
        children.push_back(fork_child([&] {
            for (;;) {
                const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) continue;
                if (design == "prefork-leaks") (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);
                serve(fd);
                ::close(fd);
            }
        }));
    }
    while (stop == 0) ::poll(nullptr, 0, 100);
    return end_children(children);
}

// -n workers, each with a listening socket of its own on the port
// (SO_REUSEPORT), opened before its fork and closed in the parent after it;
// ready once every worker has one.
int run_reuseport(const Options& o) {
    std::vector<pid_t> children;
    for (int i = 0; i < o.workers; ++i) {
        const int own = listen_on(o, true);
        children.push_back(fork_child([&] {
            ::signal(SIGCHLD, SIG_IGN);  // reuseport-forks: its children reap themselves
            for (;;) {
                const int fd = ::accept4(own, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) continue;
                if (design == "reuseport-forks") {
                    (void)fork_child([&] {
                        ::close(own);
                        serve(fd);
                    });
                } else {
                    serve(fd);
                }
                ::close(fd);
            }
        }));
        ::close(own);
    }
    if (design == "reuseport-parent-listens") (void)listen_on(o, true);
    announce(o);
    while (stop == 0) ::poll(nullptr, 0, 100);
    return end_children(children);
}

using broken::recv_fd;
using broken::send_fd;

/// The parent's side of an fdpass pool: a worker's pid and the parent's end
/// of its channel, per slot.
struct FdpassPool {
    std::vector<pid_t> children;
    std::vector<int> channels;
};

// Forks the worker of slot @p slot with a new channel (replacing what the
// slot had: its old channel is closed by the caller, or leaked).
void start_fdpass_worker(FdpassPool& pool, std::size_t slot, int listener) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0) die("socketpair");
    const pid_t pid = fork_child([&] {
        ::close(listener);
        if (design != "fdpass-shares-channels") {
            for (const int other : pool.channels) {
                if (other >= 0) ::close(other);
            }
        }
        ::close(pair[0]);
        for (;;) {
            int fd = -1;
            if (design == "fdpass-pidfd") {
                // A number, not a descriptor: copied out of the parent.
                int number = -1;
                if (::recv(pair[1], &number, sizeof number, 0) != sizeof number) return;
                const auto pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ::getppid(), 0));
                if (pidfd >= 0) fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, number, 0));
                if (pidfd >= 0) ::close(pidfd);
                const char done = 1;
                (void)::send(pair[1], &done, 1, 0);
            } else {
                fd = recv_fd(pair[1]);
            }
            if (fd < 0) return;
            serve(fd);
            ::close(fd);
        }
    });
    ::close(pair[1]);
    if (slot == pool.children.size()) {
        pool.children.push_back(pid);
        pool.channels.push_back(pair[0]);
    } else {
        pool.children[slot] = pid;
        pool.channels[slot] = pair[0];
    }
}

int run_fdpass(int listener, int n) {
    // fdpass-pidfd: the workers may copy descriptors out of the parent.
    if (design == "fdpass-pidfd") (void)::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
    FdpassPool pool;
    for (int i = 0; i < n; ++i) start_fdpass_worker(pool, pool.children.size(), listener);
    std::vector<int> kept;  // fdpass-keeps only
    std::size_t next = 0;
    while (stop == 0) {
        // A dead worker is replaced; its channel is closed first
        // (fdpass-leaks-channel: left open, one more descriptor per death).
        pid_t dead = 0;
        while ((dead = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
            for (std::size_t slot = 0; slot < pool.children.size(); ++slot) {
                if (pool.children[slot] != dead) continue;
                if (design != "fdpass-leaks-channel") ::close(pool.channels[slot]);
                pool.channels[slot] = -1;
                start_fdpass_worker(pool, slot, listener);
            }
        }
        const int fd = accept_within_100ms(listener);
        if (fd < 0) continue;
        if (design == "fdpass-pidfd") {
            char done = 0;
            if (::send(pool.channels[next], &fd, sizeof fd, 0) == sizeof fd) {
                (void)::recv(pool.channels[next], &done, 1, 0);  // copied: let go
            }
        } else {
            (void)send_fd(pool.channels[next], fd);
        }
        next = (next + 1) % pool.channels.size();
        if (design == "fdpass-keeps") {
            kept.push_back(fd);
        } else {
            ::close(fd);
        }
    }
    return end_children(pool.children);
}

int run_fork(int listener) {
    std::vector<pid_t> children;
    while (stop == 0) {
        pid_t done = 0;
        while ((done = ::waitpid(-1, nullptr, WNOHANG)) > 0) std::erase(children, done);
        const int fd = accept_within_100ms(listener);
        if (fd < 0) continue;
        children.push_back(fork_child([&] {
            ::close(listener);
            serve(fd);
        }));
        ::close(fd);
    }
    return end_children(children);
}

int run_thread(int listener) {
    // The connections being served; at the stop each is shut down (its
    // thread's blocking read returns) and main waits until none is left.
    struct Live {
        std::mutex mutex;
        std::condition_variable none_left;
        std::set<int> fds;
    };
    static Live live;
    while (stop == 0) {
        const int fd = accept_within_100ms(listener);
        if (fd < 0) continue;
        {
            const std::scoped_lock lock(live.mutex);
            live.fds.insert(fd);
        }
        std::thread([fd] {
            serve(fd);
            const std::scoped_lock lock(live.mutex);
            live.fds.erase(fd);
            ::close(fd);
            if (live.fds.empty()) live.none_left.notify_all();
        }).detach();
    }
    std::unique_lock lock(live.mutex);
    for (const int fd : live.fds) ::shutdown(fd, SHUT_RDWR);
    live.none_left.wait(lock, [] { return live.fds.empty(); });
    return 0;
}

int run_prethread(int listener, int n) {
    for (int i = 0; i < n; ++i) {
        std::thread([listener] {
            for (;;) {
                const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) continue;
                serve(fd);
                ::close(fd);
            }
        }).detach();
    }
    while (stop == 0) ::poll(nullptr, 0, 100);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    design =
        broken::bug_from_name(argv[0],
                              "prefork prefork-leaks reuseport reuseport-forks "
                              "reuseport-parent-listens fdpass fdpass-keeps fdpass-shares-channels "
                              "fdpass-leaks-channel fdpass-pidfd fork thread "
                              "prethread",
                              "model-");
    const Options o = parse(argc, argv);
    catch_stop();
    if (design.starts_with("reuseport")) ::_exit(run_reuseport(o));
    const int listener = listen_on(o);
    announce(o);
    int status = 0;
    if (design == "prefork" || design == "prefork-leaks") {
        status = run_prefork(listener, o.workers);
    } else if (design == "fdpass" || design == "fdpass-keeps" ||
               design == "fdpass-shares-channels" || design == "fdpass-leaks-channel" ||
               design == "fdpass-pidfd") {
        status = run_fdpass(listener, o.workers);
    } else if (design == "fork") {
        status = run_fork(listener);
    } else if (design == "thread") {
        status = run_thread(listener);
    } else {
        status = run_prethread(listener, o.workers);
    }
    // Detached threads may still run: leave without destroying what they use.
    std::fflush(stdout);
    ::_exit(status);
}
