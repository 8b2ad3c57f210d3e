// A preforked pool server (lab prefork: -n workers accepting on the shared
// listener, the parent supervising) that is correct except for the one bug
// its name says (broken-BUG, see broken_bug.hpp):
//   no-replace          a worker that dies is reaped but never replaced
//   lock-while-serving  a worker holds the accept lock while it serves
//   private-counters    the counters live in each process's own memory
//   mutex-not-robust    the accept lock is a process-shared pthread mutex that
//                       is not robust: a worker killed holding it stops the pool
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
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <string_view>
#include <vector>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

/// Connections per worker slot, shared unless the bug is private-counters.
std::atomic<std::uint64_t>* counters = nullptr;

/// The accept lock: an fcntl record lock on an unnamed temporary file.
int lock_file = -1;

/// The accept lock of bug mutex-not-robust, in shared memory.
pthread_mutex_t* mutex = nullptr;

void set_lock(short type) {
    if (mutex != nullptr) {
        (void)(type == F_WRLCK ? pthread_mutex_lock(mutex) : pthread_mutex_unlock(mutex));
        return;
    }
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    while (::fcntl(lock_file, F_SETLKW, &lock) < 0 && errno == EINTR) {
    }
}

[[noreturn]] void work(int listener, std::size_t slot) {
    for (;;) {
        set_lock(F_WRLCK);
        csd::Accepted accepted = csd::accept_connection(listener);
        if (bug != "lock-while-serving") set_lock(F_UNLCK);
        if (accepted.connection) {
            counters[slot].fetch_add(1);
            (void)csd::serve_connection(accepted.connection.get());
        }
        if (bug == "lock-while-serving") set_lock(F_UNLCK);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0],
                                "no-replace lock-while-serving private-counters mutex-not-robust");
    // -m as in the lab, accepted and ignored: every worker takes the lock
    // (an fcntl record lock; the pthread mutex of bug mutex-not-robust).
    const csd::ServerOptions options = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{
            .workers = true,
            .flags = {csd::LabFlag{.letter = 'm',
                                   .help = "ignored (the workers always take an accept lock)",
                                   .value_name = "MODE",
                                   .choices = {"accept", "select", "epoll", "epoll-exclusive",
                                               "lock", "fcntl", "reuseport"},
                                   .default_value = "lock"}}});
    csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
    csd::Fd listener = csd::listen_tcp(options.host, options.port);
    const auto n = static_cast<std::size_t>(options.workers);
    const std::size_t bytes = n * sizeof(std::atomic<std::uint64_t>);
    void* memory = bug == "private-counters"
                       ? ::operator new(bytes)
                       : csd::check_mmap(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                                                MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                                         "mmap");
    counters = new (memory) std::atomic<std::uint64_t>[n] {};
    lock_file = csd::check(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), "open");
    if (bug == "mutex-not-robust") {
        mutex = static_cast<pthread_mutex_t*>(
            csd::check_mmap(::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                            "mmap"));
        pthread_mutexattr_t attributes;
        pthread_mutexattr_init(&attributes);
        pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(mutex, &attributes);  // not PTHREAD_MUTEX_ROBUST: the bug
        pthread_mutexattr_destroy(&attributes);
    }
    csd::announce_listening(options.host, options.port);

    std::vector<pid_t> pids(n, 0);
    std::vector<pid_t> last(n, 0);
    bool first_round = true;
    while (!csd::stop_requested()) {
        for (std::size_t i = 0; i < n; ++i) {
            if (pids[i] != 0 || (bug == "no-replace" && !first_round)) continue;
            const pid_t pid = csd::fork_child();
            if (pid == 0) work(listener.get(), i);
            pids[i] = last[i] = pid > 0 ? pid : 0;
        }
        first_round = false;
        if (csd::wait_readable(csd::signal_fd()) == csd::Wakeup::readable) {
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
        if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
        std::cout << "worker " << i << " pid " << last[i] << " connections " << counters[i].load()
                  << " useless-wakeups 0\n";
    }
    std::cout << std::flush;
    return 0;
}
