#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "csd/error.hpp"
#include "csd/signals.hpp"

namespace csd::bench {
namespace {

using namespace std::chrono_literals;

double seconds_of(const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "wait status " + std::to_string(status);
}

/// In the child: own process group, death with csd-bench, default signals,
/// output into @p log, then exec. Never returns.
[[noreturn]] void become_server(const std::vector<std::string>& argv, const std::string& log,
                                pid_t parent) {
    csd::reset_signals_in_child();
    ::setpgid(0, 0);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || ::getppid() != parent) ::_exit(126);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (null == -1 || out == -1 || ::dup2(null, 0) == -1 || ::dup2(out, 1) == -1 ||
        ::dup2(out, 2) == -1)
        ::_exit(126);
    std::vector<char*> args;
    for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "csd-bench: cannot run %s\n", args[0]);
    ::_exit(127);
}

}  // namespace

ServerProcess::ServerProcess(const std::vector<std::string>& argv, const std::string& log_file) {
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    pid_ = csd::check(::fork(), "fork");
    if (pid_ == 0) become_server(argv, log_file, parent);
    ::setpgid(pid_, pid_);  // also here: no race with a kill of the group
}

ServerProcess::~ServerProcess() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) == -1 && errno == EINTR) {
    }
}

bool ServerProcess::ended() const {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_;
}

ServerUsage ServerProcess::stop() {
    ServerUsage usage;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    rusage used{};
    for (;;) {
        const pid_t got = ::wait4(pid_, &status, WNOHANG, &used);
        if (got == pid_) break;
        if (got == -1 && errno != EINTR) csd::throw_errno("wait4");
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            while (::wait4(pid_, &status, 0, &used) == -1)
                if (errno != EINTR) csd::throw_errno("wait4");
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::kill(-pid_, SIGKILL);  // whatever of its group outlived it
    pid_ = -1;
    usage.cpu_s = seconds_of(used.ru_utime) + seconds_of(used.ru_stime);
    usage.peak_rss_kib = used.ru_maxrss;
    usage.clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    usage.how = describe(status);
    return usage;
}

}  // namespace csd::bench
