#include "jobs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

namespace csd::batch {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
    g_stop = 1;
}

// A running task.
struct Running {
    std::size_t index = 0;
    pid_t pid = 0;
    Clock::time_point begin = {};
    Clock::time_point limit = {};
    std::optional<Clock::time_point> kill_at = {};  // set once SIGTERM was sent
    bool timed_out = false;
};

// The parent of every process (from /proc/PID/stat).
std::map<pid_t, pid_t> parents() {
    std::map<pid_t, pid_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() ||
            !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat)) continue;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        const auto close = stat.rfind(')');
        if (close == std::string::npos || close + 4 >= stat.size()) continue;
        char state = stat[close + 2];
        if (state == 'Z' || state == 'X') continue;
        try {
            out[static_cast<pid_t>(std::stol(name))] =
                static_cast<pid_t>(std::stol(stat.substr(close + 4)));
        } catch (const std::exception&) {
        }
    }
    return out;
}

// Every live descendant of @p root.
std::vector<pid_t> descendants_of(pid_t root, const std::map<pid_t, pid_t>& parent) {
    std::vector<pid_t> out;
    std::vector<pid_t> todo{root};
    while (!todo.empty()) {
        const pid_t p = todo.back();
        todo.pop_back();
        for (const auto& [child, ppid] : parent) {
            if (ppid == p) {
                out.push_back(child);
                todo.push_back(child);
            }
        }
    }
    return out;
}

pid_t start(const Task& task) {
    std::vector<char*> argv;
    for (const auto& a : task.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const char* log = task.log.empty() ? "/dev/null" : task.log.c_str();
    const int out = ::open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The child: only async-signal-safe calls until exec.
        ::setpgid(0, 0);
        const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(127);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out);
    if (pid > 0) ::setpgid(pid, pid);  // also here: no race with the kill of its group
    return pid;
}

// SIGTERM, then after the grace SIGKILL, to the group of @p r.
void stop(Running& r, Clock::time_point now) {
    if (!r.kill_at) {
        ::kill(-r.pid, SIGTERM);
        r.kill_at = now + 5s;
    } else if (now >= *r.kill_at) {
        ::kill(-r.pid, SIGKILL);
        ::kill(r.pid, SIGKILL);
    }
}

}  // namespace

void init_jobs() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    ::sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

bool stop_requested() {
    return g_stop != 0;
}

bool run_tasks(const std::vector<Task>& tasks, int jobs,
               const std::function<void(std::size_t, const Outcome&)>& on_done,
               const std::function<void(int)>& on_tick) {
    std::vector<Running> running;
    std::size_t next = 0;
    auto last_tick = Clock::now() - 1s;
    while (next < tasks.size() || !running.empty()) {
        const bool stopping = stop_requested();
        while (!stopping && next < tasks.size() && std::ssize(running) < jobs) {
            const Task& task = tasks[next];
            const auto now = Clock::now();
            const pid_t pid = start(task);
            if (pid < 0) {
                on_done(next++, Outcome{});
                continue;
            }
            running.push_back(
                {.index = next++, .pid = pid, .begin = now, .limit = now + task.limit});
        }
        // Reap: our tasks, and strays reparented to us (ignored here).
        for (;;) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            const auto it = std::find_if(running.begin(), running.end(),
                                         [pid](const Running& r) { return r.pid == pid; });
            if (it == running.end()) continue;
            const Running done = *it;
            running.erase(it);
            // What the task left behind (its group, orphans reparented to us).
            ::kill(-done.pid, SIGKILL);
            std::vector<pid_t> keep;
            for (const auto& r : running) keep.push_back(r.pid);
            end_strays(keep);
            if (!stopping) {
                on_done(
                    done.index,
                    {.status = status,
                     .timed_out = done.timed_out,
                     .seconds = std::chrono::duration<double>(Clock::now() - done.begin).count()});
            }
        }
        const auto now = Clock::now();
        for (auto& r : running) {
            if (stopping || now >= r.limit) {
                r.timed_out = r.timed_out || !stopping;
                stop(r, now);
            }
        }
        if (now - last_tick >= 100ms) {
            on_tick(static_cast<int>(running.size()));
            last_tick = now;
        }
        std::this_thread::sleep_for(20ms);
    }
    on_tick(0);
    end_strays();
    return !stop_requested();
}

int end_strays(const std::vector<pid_t>& keep) {
    int found = 0;
    for (int round = 0; round < 50; ++round) {
        const auto parent = parents();
        std::vector<pid_t> strays;
        for (const auto& [pid, ppid] : parent) {
            if (ppid != ::getpid() || std::find(keep.begin(), keep.end(), pid) != keep.end())
                continue;
            strays.push_back(pid);
            for (const pid_t d : descendants_of(pid, parent)) strays.push_back(d);
        }
        if (strays.empty()) break;
        found = std::max(found, static_cast<int>(strays.size()));
        for (const pid_t p : strays) ::kill(p, SIGKILL);
        std::this_thread::sleep_for(10ms);
        // Reap only the strays (a task's status belongs to run_tasks()).
        for (const pid_t p : strays) ::waitpid(p, nullptr, WNOHANG);
    }
    return found;
}

std::vector<pid_t> descendants() {
    return descendants_of(::getpid(), parents());
}

}  // namespace csd::batch
