#include "process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/limits.hpp"
#include "procfs.hpp"
#include "sandbox.hpp"

extern char** environ;

namespace csd::grade {
namespace {

using namespace std::chrono_literals;

// Wait statuses of reaped children, by pid.
std::mutex& reaped_mutex() {
    static std::mutex m;
    return m;
}
std::map<pid_t, int>& reaped() {
    static std::map<pid_t, int> statuses;
    return statuses;
}

// What the init of a PID namespace sends when its program ended: the
// program's wait status, how many other processes it reaped until then
// (orphans: their parent ended before collecting them), and whether
// children of the program were left still running (now the init's).
struct InitReport {
    int status = 0;
    int orphans = 0;
    int running = 0;
};

// The orphan part of the init reports received, by program host pid.
// Guarded by reaped_mutex().
std::map<pid_t, ProcessOrphans>& orphans_seen() {
    static std::map<pid_t, ProcessOrphans> seen;
    return seen;
}

// Programs started in a PID namespace (spawn_graded()), by host pid: the
// init that is their parent, and the pipe on which it sends their wait
// status (an InitReport). Guarded by reaped_mutex().
struct Confined {
    pid_t init = 0;
    int status_fd = -1;  // read end, non-blocking; closed once settled
};
std::map<pid_t, Confined>& confined() {
    static std::map<pid_t, Confined> programs;
    return programs;
}

// Under reaped_mutex(): records the status the init of program @p pid
// sent, or -1 when the init ended without sending one; true once known.
bool settle(pid_t pid, Confined& c, bool init_ended) {
    if (c.status_fd < 0) return reaped().contains(pid);
    InitReport report;
    const ssize_t n = ::read(c.status_fd, &report, sizeof report);
    if (n == static_cast<ssize_t>(sizeof report)) {
        reaped()[pid] = report.status;
        orphans_seen()[pid] = {.reaped = report.orphans, .running = report.running != 0};
    } else if (n == 0 || init_ended) {
        reaped()[pid] = -1;
    } else {
        return false;
    }
    ::close(c.status_fd);
    c.status_fd = -1;
    return true;
}

// Held while spawning; the interrupt thread takes it for good, so nothing
// new starts while it cleans up.
std::mutex& spawn_mutex() {
    static std::mutex m;
    return m;
}

// The live processes (not zombies, not the grader) of @p all that @p wanted selects.
std::vector<pid_t> live_processes(const std::vector<procfs::ProcStat>& all,
                                  const std::function<bool(const procfs::ProcStat&)>& wanted) {
    std::vector<pid_t> out;
    for (const auto& p : all) {
        if (p.state != 'Z' && p.pid != ::getpid() && wanted(p)) out.push_back(p.pid);
    }
    return out;
}

// Kills what @p targets() returns: SIGTERM, up to @p grace to go, then SIGKILL.
void kill_set(const std::function<std::vector<pid_t>()>& targets, pid_t group,
              std::chrono::milliseconds grace) {
    auto signal_all = [&](int sig) {
        if (group > 0) ::kill(-group, sig);
        for (const pid_t pid : targets()) ::kill(pid, sig);
    };
    signal_all(SIGTERM);
    const auto grace_end = Deadline::ignoring_run_end(grace);
    while (!grace_end.expired()) {
        reap_children();
        if (targets().empty()) break;
        std::this_thread::sleep_for(10ms);
    }
    const auto kill_end = Deadline::ignoring_run_end(5s);
    while (!kill_end.expired()) {
        reap_children();
        if (targets().empty()) break;
        signal_all(SIGKILL);
        std::this_thread::sleep_for(5ms);
    }
    // Dead children of killed parents are reparented to us: reap them too.
    const auto reap_end = Deadline::ignoring_run_end(1s);
    while (!reap_end.expired()) {
        reap_children();
        bool zombie_child = false;
        for (const auto& p : procfs::snapshot()) {
            if (p.ppid == ::getpid() && p.state == 'Z') zombie_child = true;
        }
        if (!zombie_child) break;
        std::this_thread::sleep_for(5ms);
    }
}

[[noreturn]] void interrupt_thread(sigset_t set) {
    int sig = 0;
    while (::sigwait(&set, &sig) != 0) {
    }
    spawn_mutex().lock();  // never released: we exit below
    std::fprintf(stderr, "\ncsd-grade: %s received, stopping the server\n",
                 signal_name(sig).c_str());
    // Results from here on would only show the server being killed: hide them.
    if (const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC); null >= 0) ::dup2(null, 1);
    kill_all_descendants(300ms);
    std::_Exit(2);
}

void terminate_handler() {
    std::fprintf(stderr, "csd-grade: internal error (std::terminate), stopping the server\n");
    kill_all_descendants(100ms);
    std::abort();
}

}  // namespace

void init_process_control() {
    csd::check(::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL),
               "prctl(PR_SET_CHILD_SUBREAPER)");
    csd::raise_open_file_limit();  // servers inherit it (the many check)
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
        throw std::system_error(err, std::generic_category(), "pthread_sigmask");
    }
    std::thread(interrupt_thread, set).detach();
    std::set_terminate(terminate_handler);
}

pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
    return spawn(argv, -1, out_fd, err_fd);
}

pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    if (in_fd >= 0) {
        ::posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    } else {
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    int slot = 1;
    for (const int fd : {out_fd, err_fd}) {
        if (fd >= 0) {
            ::posix_spawn_file_actions_adddup2(&actions, fd, slot);
        } else {
            ::posix_spawn_file_actions_addopen(&actions, slot, "/dev/null", O_WRONLY, 0);
        }
        ++slot;
    }
    ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t empty;
    sigset_t all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    ::posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setsigmask(&attr, &empty);
    ::posix_spawnattr_setsigdefault(&attr, &all);

    pid_t pid = -1;
    int err = 0;
    {
        const std::lock_guard lock(spawn_mutex());
        err = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
        if (err == 0) {
            const std::lock_guard reaped_lock(reaped_mutex());
            reaped().erase(pid);  // a reused pid: forget the old status
        }
    }
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    if (err != 0) {
        throw std::system_error(err, std::generic_category(), "cannot start " + argv.front());
    }
    return pid;
}

namespace {

// What the forked child needs to become the graded program; prepared
// before fork() so that the child only makes async-signal-safe calls.
struct ChildSetup {
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    int in_fd = -1;   // -1: /dev/null
    int out_fd = -1;  // -1: /dev/null
    int err_fd = -1;  // -1: /dev/null
    ChildLimits limits;
    int go_fd = -1;          // >= 0: wait for a byte on it before exec
    int error_fd = -1;       // CLOEXEC write end: errno when exec fails
    int ignored_signal = 0;  // not 0: this signal starts ignored, the others default
};

// Sends @p err on the error pipe and ends the child. Async-signal-safe.
[[noreturn]] void child_fail(const ChildSetup& c, int err) {
    (void)::write(c.error_fd, &err, sizeof err);
    ::_exit(127);
}

// In the forked child: its own session, stdin/stdout/stderr, default
// signals, the limits, then exec. Async-signal-safe calls only.
[[noreturn]] void become_program(const ChildSetup& c) {
    if (::setsid() < 0) child_fail(c, errno);
    const int sources[3] = {c.in_fd, c.out_fd, c.err_fd};
    int moved[3] = {-1, -1, -1};
    for (int slot = 0; slot < 3; ++slot) {
        // Out of the way of 0, 1 and 2 first, so that no dup2 clobbers a source.
        moved[slot] = sources[slot] >= 0 ? ::fcntl(sources[slot], F_DUPFD_CLOEXEC, 3)
                                         : ::open("/dev/null", slot == 0 ? O_RDONLY : O_WRONLY, 0);
        if (moved[slot] < 0) child_fail(c, errno);
    }
    for (int slot = 0; slot < 3; ++slot) {
        if (::dup2(moved[slot], slot) < 0) child_fail(c, errno);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &dfl, nullptr);
    }
    if (c.ignored_signal != 0) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        if (::sigaction(c.ignored_signal, &ign, nullptr) < 0) child_fail(c, errno);
    }
    sigset_t empty;
    sigemptyset(&empty);
    (void)::sigprocmask(SIG_SETMASK, &empty, nullptr);
    if (const int err = apply_limits(c.limits); err != 0) child_fail(c, err);
    if (c.go_fd >= 0) {
        char byte = 0;
        while (::read(c.go_fd, &byte, 1) < 0 && errno == EINTR) {
        }
    }
    // Every other descriptor closed; the error pipe closes itself on exec.
    if (c.error_fd > 3) (void)::close_range(3, static_cast<unsigned>(c.error_fd) - 1, 0);
    (void)::close_range(static_cast<unsigned>(c.error_fd) + 1, ~0U, 0);
    ::execve(c.argv[0], c.argv, c.envp);
    child_fail(c, errno);
}

// In the init (PID 1 of the namespace): starts the program as its child,
// reaps everything orphaned in the namespace, sends an InitReport on
// @p status_fd when the program ended, and ends when nothing is left.
// Async-signal-safe calls only.
[[noreturn]] void run_init(const ChildSetup& c, int status_fd) {
    const pid_t program = ::fork();
    if (program < 0) child_fail(c, errno);
    if (program == 0) {
        ::close(status_fd);
        become_program(c);
    }
    // Only the status pipe stays open: the program's pipes must reach EOF
    // when the program and its children close them.
    if (status_fd > 0) (void)::close_range(0, static_cast<unsigned>(status_fd) - 1, 0);
    (void)::close_range(static_cast<unsigned>(status_fd) + 1, ~0U, 0);
    int orphans = 0;
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) ::_exit(0);  // ECHILD: the namespace is empty
        if (pid != program) {
            ++orphans;
            continue;
        }
        // The program's children it had not reaped became the init's when
        // it ended, before its own status came: the ended ones wait here
        // now, the others still run.
        InitReport report{.status = status};
        for (;;) {
            int other = 0;
            const pid_t z = ::waitpid(-1, &other, WNOHANG);
            if (z < 0 && errno == EINTR) continue;
            if (z > 0) {
                ++orphans;
                continue;
            }
            report.running = z == 0 ? 1 : 0;  // 0: children left, none ended yet
            break;
        }
        report.orphans = orphans;
        (void)::write(status_fd, &report, sizeof report);
    }
}

// A pipe whose two ends close on exec; throws.
std::pair<csd::Fd, csd::Fd> cloexec_pipe() {
    int fds[2];
    csd::check(::pipe2(fds, O_CLOEXEC), "pipe2");
    return {csd::Fd(fds[0]), csd::Fd(fds[1])};
}

// Reads exactly @p size bytes (blocking); false at EOF first.
bool read_exactly(int fd, void* data, std::size_t size) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t n = ::read(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// The only child of @p init (its host pid), waiting up to 5 s for it to appear.
pid_t only_child(pid_t init) {
    const std::string path =
        "/proc/" + std::to_string(init) + "/task/" + std::to_string(init) + "/children";
    const auto end = Deadline::ignoring_run_end(5s);
    do {
        if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
            char text[32] = {};
            const ssize_t n = ::read(fd, text, sizeof text - 1);
            ::close(fd);
            if (n > 0 && std::atoi(text) > 0) return static_cast<pid_t>(std::atoi(text));
        }
        std::this_thread::sleep_for(1ms);
    } while (!end.expired());
    return 0;
}

}  // namespace

pid_t spawn_graded(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
                   std::optional<rlim_t> open_files, int ignored_signal,
                   const std::string& limits_path) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ChildSetup c{
        .argv = args.data(),
        .envp = environ,
        .in_fd = in_fd,
        .out_fd = out_fd,
        .err_fd = err_fd,
        .limits = sandbox_limits(limits_path.empty() ? argv.front() : limits_path, open_files),
        .ignored_signal = ignored_signal};
    auto [error_read, error_write] = cloexec_pipe();
    c.error_fd = error_write.get();
    const bool namespaced = sandbox_info().pid_namespace;

    const std::lock_guard lock(spawn_mutex());
    pid_t program = -1;
    Confined confinement;
    if (!namespaced) {
        program = ::fork();
        if (program < 0) csd::check(-1, "fork");
        if (program == 0) become_program(c);
    } else {
        // grader -> helper (unshares) -> init (PID 1) -> program (PID 2).
        auto [go_read, go_write] = cloexec_pipe();
        auto [info_read, info_write] = cloexec_pipe();
        auto [status_read, status_write] = cloexec_pipe();
        c.go_fd = go_read.get();
        const pid_t helper = ::fork();
        if (helper < 0) csd::check(-1, "fork");
        if (helper == 0) {
            pid_t init = -1;
            if (::unshare(CLONE_NEWPID) == 0) init = ::fork();
            if (init == 0) run_init(c, status_write.get());
            (void)::write(info_write.get(), &init, sizeof init);
            ::_exit(0);
        }
        info_write.reset();
        status_write.reset();
        go_read.reset();
        pid_t init = -1;
        const bool told = read_exactly(info_read.get(), &init, sizeof init);
        int helper_status = 0;
        while (::waitpid(helper, &helper_status, 0) < 0 && errno == EINTR) {
        }
        if (!told || init <= 0) {
            throw std::system_error(EAGAIN, std::generic_category(),
                                    "cannot start a PID namespace for " + argv.front());
        }
        program = only_child(init);
        if (program <= 0) {
            (void)::kill(init, SIGKILL);
            throw std::system_error(ESRCH, std::generic_category(),
                                    "cannot find the program in its PID namespace");
        }
        csd::check(::fcntl(status_read.get(), F_SETFL, O_NONBLOCK), "fcntl");
        confinement = Confined{.init = init, .status_fd = status_read.release()};
        // The program holds a copy of the write end too: a byte, not EOF, says go.
        const char go = 'g';
        (void)::write(go_write.get(), &go, 1);
        go_write.reset();
    }
    error_write.reset();
    int err = 0;
    const bool failed = read_exactly(error_read.get(), &err, sizeof err);
    {
        const std::lock_guard reaped_lock(reaped_mutex());
        reaped().erase(program);  // a reused pid: forget the old status
        orphans_seen().erase(program);
        if (namespaced) confined()[program] = confinement;
    }
    if (failed) {
        (void)wait_child(program, Deadline::ignoring_run_end(1s));
        throw std::system_error(err, std::generic_category(), "cannot start " + argv.front());
    }
    return program;
}

std::optional<int> child_status(pid_t pid) {
    const std::lock_guard lock(reaped_mutex());
    if (const auto it = reaped().find(pid); it != reaped().end()) return it->second;
    if (const auto it = confined().find(pid); it != confined().end()) {
        if (settle(pid, it->second, reaped().contains(it->second.init))) return reaped()[pid];
        return std::nullopt;
    }
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
        reaped()[pid] = status;
        return status;
    }
    if (r < 0 && errno == ECHILD) return -1;
    return std::nullopt;
}

std::optional<ProcessOrphans> orphans_at_exit(pid_t pid) {
    if (!child_status(pid)) return std::nullopt;
    const std::lock_guard lock(reaped_mutex());
    if (const auto it = orphans_seen().find(pid); it != orphans_seen().end()) return it->second;
    return std::nullopt;
}

std::optional<int> wait_child(pid_t pid, Deadline deadline) {
    for (;;) {
        if (auto st = child_status(pid)) return st;
        if (deadline.expired()) return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
}

void reap_children() {
    const std::lock_guard lock(reaped_mutex());
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) reaped()[pid] = status;
    // Programs whose init ended: their status is in the pipe, or lost.
    for (auto it = confined().begin(); it != confined().end();) {
        if (reaped().contains(it->second.init)) {
            (void)settle(it->first, it->second, true);
            it = confined().erase(it);
        } else {
            ++it;
        }
    }
}

void kill_tree(pid_t root, std::chrono::milliseconds grace) {
    auto targets = [root] {
        const auto all = procfs::snapshot();
        std::set<pid_t> below;
        for (const auto& d : procfs::descendants_in(root, all)) below.insert(d.pid);
        return live_processes(all, [&](const procfs::ProcStat& p) {
            return p.pid == root || p.pgrp == root || below.contains(p.pid);
        });
    };
    kill_set(targets, root, grace);
    pid_t init = 0;
    {
        const std::lock_guard lock(reaped_mutex());
        if (const auto it = confined().find(root); it != confined().end()) init = it->second.init;
    }
    if (init > 0) {
        // Ends the namespace: whatever was orphaned in it dies with its init.
        (void)::kill(init, SIGKILL);
        (void)wait_child(init, Deadline::ignoring_run_end(1s));
        reap_children();
    }
}

namespace {

// Every live descendant of the grader, the inits of PID namespaces included.
std::vector<pid_t> every_live_descendant() {
    const auto all = procfs::snapshot();
    std::set<pid_t> below;
    for (const auto& d : procfs::descendants_in(::getpid(), all)) below.insert(d.pid);
    return live_processes(all, [&](const procfs::ProcStat& p) { return below.contains(p.pid); });
}

}  // namespace

void kill_all_descendants(std::chrono::milliseconds grace) {
    kill_set(every_live_descendant, 0, grace);
}

std::vector<pid_t> live_descendants_of_grader() {
    std::set<pid_t> inits;
    {
        const std::lock_guard lock(reaped_mutex());
        for (const auto& [program, c] : confined()) inits.insert(c.init);
    }
    std::vector<pid_t> out = every_live_descendant();
    std::erase_if(out, [&](pid_t pid) { return inits.contains(pid); });
    return out;
}

std::string describe_wait_status(int status) {
    if (status == -1) return "ended (exit status unknown)";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        std::string text = "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                           signal_name(WTERMSIG(status)) + ")";
        if (WCOREDUMP(status)) text += ", core dumped";
        return text;
    }
    return "ended (wait status " + std::to_string(status) + ")";
}

std::string signal_name(int sig) {
    if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(sig);
}

}  // namespace csd::grade
