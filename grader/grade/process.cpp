#include "process.hpp"

#include <fcntl.h>
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
#include "csd/limits.hpp"
#include "procfs.hpp"

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
    const Deadline grace_end(grace);
    while (!grace_end.expired()) {
        reap_children();
        if (targets().empty()) break;
        std::this_thread::sleep_for(10ms);
    }
    const Deadline kill_end(5s);
    while (!kill_end.expired()) {
        reap_children();
        if (targets().empty()) break;
        signal_all(SIGKILL);
        std::this_thread::sleep_for(5ms);
    }
    // Dead children of killed parents are reparented to us: reap them too.
    const Deadline reap_end(1s);
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

std::optional<int> child_status(pid_t pid) {
    const std::lock_guard lock(reaped_mutex());
    if (const auto it = reaped().find(pid); it != reaped().end()) return it->second;
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
        reaped()[pid] = status;
        return status;
    }
    if (r < 0 && errno == ECHILD) return -1;
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
}

void kill_all_descendants(std::chrono::milliseconds grace) {
    kill_set(live_descendants_of_grader, 0, grace);
}

std::vector<pid_t> live_descendants_of_grader() {
    const auto all = procfs::snapshot();
    std::set<pid_t> below;
    for (const auto& d : procfs::descendants_in(::getpid(), all)) below.insert(d.pid);
    return live_processes(all, [&](const procfs::ProcStat& p) { return below.contains(p.pid); });
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
