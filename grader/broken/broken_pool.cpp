// A preforked pool server (lab prefork: -n workers accepting on the shared
// listener, the parent supervising, each -m mode as the handout says) that
// is correct except for the one bug its name says (broken-BUG, see
// broken_bug.hpp):
//   no-replace            a worker that dies is reaped but never replaced
//   lock-while-serving    a worker holds the accept lock while it serves
//   private-counters      the counters live in each process's own memory
//   mutex-not-robust      the accept lock is a process-shared pthread mutex that
//                         is not robust: a worker killed holding it stops the pool
//   fcntl-only            -m is accepted and ignored: every mode takes the fcntl
//                         record lock around accept (a pool with one mode written)
//   reuseport-parent-copy -m reuseport: the parent keeps its copy of each
//                         worker's listening socket (the kernel may queue
//                         connections on a socket that only the parent holds
//                         once its worker is gone)
//   epoll-shared-set      -m epoll on one epoll set the parent made before the
//                         forks: every worker waits on it, one wakes  -> modes
//   epoll-not-exclusive   -m epoll-exclusive without EPOLLEXCLUSIVE: the herd
//                         the mode exists to avoid
//   counts-in-slot-0      every connection counted in slot 0: a report that adds
//                         up, and says nothing about who served
//   counts-in-a-byte      each worker's count printed modulo 256, as a count
//                         passed in an exit status comes out          -> distribution
//   counts-reset-on-replace  a worker forked in place of a dead one starts its
//                         slot's counts from zero again                -> distribution
//   counts-round-robin    each accept counted in the next slot in turn (one
//                         shared ticket), not in the accepting worker's: the
//                         sum is right, the lines share it out evenly
//   thread-per-client     each worker serves each connection on a new thread
//                         of its own: -n bounds nothing
//   pool-of-4             4 workers whatever -n says
//   pool-capped-4         at most 4 workers: -n 3 gives 3, -n 7 gives 4
//   pool-capped-32        at most 32 workers: right up to -n 32 (the seventh
//                         red-team's cap; architecture asks for 100)
//   stop-no-wait          at the stop, signals its workers and exits without
//                         waiting for them (the sandbox's init reaps them)
//   supervisor-polls      the parent looks for dead workers every 600 ms
//                         (waitpid WNOHANG, then a sleep) instead of waiting
//                         for SIGCHLD or SIGTERM: little CPU, a timer loop
//   wakeups-not-counted   the report says 0 useless wakeups whatever the
//                         workers met: -m select's herd goes unseen -> distribution
//   wakeups-counted-in-select-only  the same in -m epoll only    -> distribution
// and one name that is no bug: broken-correct-variant does every mode
// another valid way (plain accept() without flags, open file description
// locks F_OFD_SETLKW on each worker's own open of the lock file, pselect(),
// epoll_pwait()), and must get full marks for it (the test
// variant.prefork.modes).
// grader/broken/CMakeLists.txt builds one broken-<bug> program per bug.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: no-replace prefork replace control pipeline
// test: lock-while-serving prefork stalled control pipeline
// test: private-counters prefork distribution control pipeline
//   replace kills the worker that waits in accept(), holding the accept lock:
//   a mutex that is not robust is never released, and the pool stops.
// test: mutex-not-robust prefork replace control pipeline
//   Each mode is seen from the outside (what each worker waits in).
// test: fcntl-only prefork modes control pipeline
// test: reuseport-parent-copy prefork modes control pipeline
// test: epoll-not-exclusive prefork modes control pipeline
//   -m epoll with one epoll set made before the forks, shared by every
//   worker: one waiter wakes per connection, no herd (the eighth
//   red-team's prefork-sharedep: full marks).
// test: epoll-shared-set prefork modes control pipeline
//   What the report says against who the grader saw serve.
// test: counts-in-slot-0 prefork distribution control pipeline
//   Each count carried in 8 bits, as an exit status would (a red-team's
//   cheat had full marks: no worker served more than 255).
// test: counts-in-a-byte prefork distribution control pipeline
//   The sum shared out evenly, whoever served (issue 20: fdpass-fakecount had
//   full marks while the short connections went unattributed).
// test: counts-round-robin prefork distribution control pipeline
//   A slot's counts set back to zero with its new worker (the seventh
//   red-team: full marks; distribution now kills a worker halfway).
// test: counts-reset-on-replace prefork distribution control pipeline
//   Useless wakeups always 0 in the report (issue 20: a made-up report had
//   full marks; distribution runs -m select to see the herd counted).
// test: wakeups-not-counted prefork distribution control pipeline
//   Counted in -m select only (the seventh red-team: full marks while
//   distribution looked at -m select alone).
// test: wakeups-counted-in-select-only prefork distribution control pipeline
//   Each worker has one thread, however many clients it serves.
// test: thread-per-client prefork architecture control pipeline
// test: pool-of-4 prefork architecture control pipeline
// test: pool-capped-4 prefork architecture control pipeline
// test: pool-capped-32 prefork architecture control pipeline
// test: stop-no-wait prefork sigterm control pipeline
//   The idle parent is watched in every mode: it must wait, not poll.
// test: supervisor-polls prefork modes control pipeline
// test: supervisor-polls prefork idle-cpu control pipeline
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

/// Connections per worker slot, shared unless the bug is private-counters.
std::atomic<std::uint64_t>* counters = nullptr;
/// Useless wakeups per worker slot (an accept that found no connection), shared.
std::atomic<std::uint64_t>* wakeups = nullptr;
/// Bug counts-round-robin: the next slot to count a connection in, shared.
std::atomic<std::uint64_t>* ticket = nullptr;
/// The number of worker slots.
std::size_t pool = 0;

/// The -m mode (accept, lock, fcntl, reuseport, select, epoll, epoll-exclusive).
std::string mode;

/// Bug epoll-shared-set: the one epoll set, made by the parent before the
/// forks, that every worker inherits and waits on.
int shared_epoll = -1;

/// The accept lock of mode fcntl: a record lock on an unnamed temporary file.
/// correct-variant: each worker reopens it (its own open file description)
/// and takes an OFD lock on that.
int lock_file = -1;

/// correct-variant: the other valid way of each mode.
bool variant = false;

/// The accept lock of mode lock, in shared memory (robust unless the bug
/// is mutex-not-robust).
pthread_mutex_t* mutex = nullptr;

void set_lock(short type) {
    if (mode == "lock") {
        if (type == F_UNLCK) {
            pthread_mutex_unlock(mutex);
        } else if (pthread_mutex_lock(mutex) == EOWNERDEAD) {
            pthread_mutex_consistent(mutex);
        }
        return;
    }
    if (mode != "fcntl") return;
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    const int command = variant ? F_OFD_SETLKW : F_SETLKW;  // OFD locks want l_pid 0
    while (::fcntl(lock_file, command, &lock) < 0 && errno == EINTR) {
    }
}

/// Blocks until @p listener is readable, in the way of modes select and
/// epoll (@p epoll: the worker's epoll set); nothing in the other modes.
void wait_readable(int listener, int epoll) {
    if (mode == "select") {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(listener, &readable);
        if (variant) {
            (void)::pselect(listener + 1, &readable, nullptr, nullptr, nullptr, nullptr);
        } else {
            (void)::select(listener + 1, &readable, nullptr, nullptr, nullptr);
        }
    } else if (epoll >= 0) {
        epoll_event event{};
        if (variant) {
            (void)::epoll_pwait(epoll, &event, 1, -1, nullptr);
        } else {
            (void)::epoll_wait(epoll, &event, 1, -1);
        }
    }
}

/// correct-variant's accept: plain accept(), then the flags one by one.
csd::Accepted accept_plainly(int listener) {
    csd::Accepted accepted;
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            accepted.status = csd::AcceptStatus::out_of_descriptors;
            accepted.error = errno;
        }
        return accepted;
    }
    accepted.status = csd::AcceptStatus::accepted;
    accepted.connection = csd::Fd(fd);
    (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return accepted;
}

[[noreturn]] void work(int listener, std::size_t slot) {
    if (variant && mode == "fcntl") {
        // A new open file description of the same file: its own OFD lock.
        const std::string path = "/proc/self/fd/" + std::to_string(lock_file);
        lock_file = csd::check(::open(path.c_str(), O_RDWR | O_CLOEXEC), "open lock file");
    }
    int epoll = shared_epoll;
    if ((mode == "epoll" || mode == "epoll-exclusive") && epoll < 0) {
        epoll = csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        epoll_event event{};
        event.events = EPOLLIN;
        if (mode == "epoll-exclusive" && bug != "epoll-not-exclusive") {
            event.events |= EPOLLEXCLUSIVE;
        }
        csd::check(::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event), "epoll_ctl");
    }
    for (;;) {
        wait_readable(listener, epoll);
        set_lock(F_WRLCK);
        csd::Accepted accepted = variant && mode == "accept" ? accept_plainly(listener)
                                                             : csd::accept_connection(listener);
        if (bug != "lock-while-serving") set_lock(F_UNLCK);
        // Bug wakeups-counted-in-select-only: -m epoll's herd goes uncounted.
        if (!accepted.connection && !(bug == "wakeups-counted-in-select-only" && mode == "epoll")) {
            wakeups[slot].fetch_add(1);
        }
        if (accepted.connection) {
            const std::size_t counted = bug == "counts-in-slot-0" ? 0
                                        : bug == "counts-round-robin"
                                            ? static_cast<std::size_t>(ticket->fetch_add(1) % pool)
                                            : slot;
            counters[counted].fetch_add(1);
            if (bug == "thread-per-client") {
                std::thread([client = std::move(accepted.connection)] {
                    (void)csd::serve_connection(client.get());
                }).detach();
            } else {
                (void)csd::serve_connection(accepted.connection.get());
            }
        }
        if (bug == "lock-while-serving") set_lock(F_UNLCK);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "no-replace lock-while-serving private-counters mutex-not-robust "
        "fcntl-only reuseport-parent-copy epoll-not-exclusive counts-in-slot-0 counts-in-a-byte "
        "thread-per-client pool-of-4 pool-capped-4 pool-capped-32 correct-variant stop-no-wait "
        "supervisor-polls epoll-shared-set "
        "wakeups-not-counted counts-round-robin counts-reset-on-replace "
        "wakeups-counted-in-select-only");
    variant = bug == "correct-variant";
    const csd::ServerOptions options = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{
            .workers = true,
            .flags = {csd::LabFlag{.letter = 'm',
                                   .help = "how the workers wait for a connection",
                                   .value_name = "MODE",
                                   .choices = {"accept", "select", "epoll", "epoll-exclusive",
                                               "lock", "fcntl", "reuseport"},
                                   .default_value = "accept"}}});
    mode = bug == "fcntl-only" ? "fcntl" : options.value('m');
    if (bug == "mutex-not-robust") mode = "lock";  // replace runs in lock mode anyway
    csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
    const bool reuseport = mode == "reuseport";
    const bool waits_first = mode == "select" || mode == "epoll" || mode == "epoll-exclusive";
    csd::Fd listener;  // the shared one (none in mode reuseport)
    if (!reuseport)
        listener = csd::listen_tcp(options.host, options.port, {.nonblocking = waits_first});
    if (bug == "epoll-shared-set" && mode == "epoll") {
        // The bug: one epoll set for the whole pool, made before the forks.
        shared_epoll = csd::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        epoll_event event{};
        event.events = EPOLLIN;
        csd::check(::epoll_ctl(shared_epoll, EPOLL_CTL_ADD, listener.get(), &event), "epoll_ctl");
    }
    // Bug pool-of-4: 4 workers (the grader's usual -n) whatever -n says.
    // Bug pool-capped-4: never more than 4, whatever -n says.
    const auto n =
        static_cast<std::size_t>(bug == "pool-of-4"        ? 4
                                 : bug == "pool-capped-4"  ? std::min(options.workers, 4)
                                 : bug == "pool-capped-32" ? std::min(options.workers, 32)
                                                           : options.workers);
    const std::size_t bytes = (2 * n + 1) * sizeof(std::atomic<std::uint64_t>);
    void* memory = bug == "private-counters"
                       ? ::operator new(bytes)
                       : csd::check_mmap(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                                                MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                                         "mmap");
    counters = new (memory) std::atomic<std::uint64_t>[2 * n + 1] {};
    wakeups = counters + n;
    ticket = counters + 2 * n;
    pool = n;
    lock_file = csd::check(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), "open");
    mutex = static_cast<pthread_mutex_t*>(
        csd::check_mmap(::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                        "mmap"));
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (bug != "mutex-not-robust") pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    std::vector<csd::Fd> kept;  // bug reuseport-parent-copy: the parent's copies
    csd::announce_listening(options.host, options.port);

    std::vector<pid_t> pids(n, 0);
    std::vector<pid_t> last(n, 0);
    bool first_round = true;
    while (!csd::stop_requested()) {
        for (std::size_t i = 0; i < n; ++i) {
            if (pids[i] != 0 || (bug == "no-replace" && !first_round)) continue;
            if (bug == "counts-reset-on-replace" && !first_round) {
                counters[i].store(0);
                wakeups[i].store(0);
            }
            csd::Fd own;  // mode reuseport: the worker's own listening socket
            if (reuseport) own = csd::listen_tcp(options.host, options.port, {.reuse_port = true});
            const pid_t pid = csd::fork_child();
            if (pid == 0) work(reuseport ? own.get() : listener.get(), i);
            if (bug == "reuseport-parent-copy" && own) kept.push_back(std::move(own));
            pids[i] = last[i] = pid > 0 ? pid : 0;
        }
        first_round = false;
        if (bug == "supervisor-polls") {
            std::this_thread::sleep_for(std::chrono::milliseconds(600));
        } else if (csd::wait_readable(csd::signal_fd()) == csd::Wakeup::readable) {
            (void)csd::drain_signals();
        }
        for (pid_t pid; (pid = ::waitpid(-1, nullptr, WNOHANG)) > 0;) {
            for (pid_t& p : pids) {
                if (p == pid) p = 0;
            }
        }
    }
    for (const pid_t pid : pids) {
        if (pid > 0) ::kill(pid, SIGTERM);
    }
    for (const pid_t pid : pids) {
        if (pid > 0 && bug != "stop-no-wait") ::waitpid(pid, nullptr, 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const auto count = counters[i].load();
        std::cout << "worker " << i << " pid " << last[i] << " connections "
                  << (bug == "counts-in-a-byte" ? count & 0xff : count) << " useless-wakeups "
                  << (bug == "wakeups-not-counted" ? 0 : wakeups[i].load()) << '\n';
    }
    std::cout << std::flush;
    return 0;
}
