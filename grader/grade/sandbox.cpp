#include "sandbox.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>

namespace csd::grade {
namespace {

constexpr rlim_t mib = 1024 * 1024;
// Descriptors: the largest `many` check holds 10,000 connections
// (registry.cpp), plus the listener, pipes and a margin.
constexpr rlim_t open_files = 16384;
// Memory a graded server may map writable (RLIMIT_DATA): a thread per
// connection up to the cap of 256 reserves 2 GiB of stacks.
constexpr rlim_t data_bytes = 4096 * mib;
// Largest file a graded program may write (its stdout and stderr are pipes).
constexpr rlim_t file_bytes = 64 * mib;
// Processes beyond what the user already runs (not root: RLIMIT_NPROC).
constexpr rlim_t extra_processes = 4096;

SandboxInfo& info() {
    static SandboxInfo i{.pid_namespace = false, .summary = "rlimits only"};
    return i;
}

rlim_t& cpu_limit() {
    static rlim_t seconds = RLIM_INFINITY;
    return seconds;
}

// True when a child can make a PID namespace (unshare) and start its init in it.
bool pid_namespace_works() {
    if (::geteuid() != 0) return false;
    const pid_t child = ::fork();
    if (child < 0) return false;
    if (child == 0) {
        if (::unshare(CLONE_NEWPID) != 0) ::_exit(1);
        const pid_t init = ::fork();
        if (init < 0) ::_exit(1);
        if (init == 0) ::_exit(::getpid() == 1 ? 0 : 1);
        int status = 0;
        if (::waitpid(init, &status, 0) != init) ::_exit(1);
        ::_exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Processes owned by the user running the grader (the owners of /proc/PID).
rlim_t user_processes() {
    rlim_t count = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) == 0 && st.st_uid == ::getuid()) ++count;
    }
    return count;
}

void add(ChildLimits& l, int resource, rlim_t soft, rlim_t hard) {
    if (l.count == ChildLimits::max) return;
    l.limits[l.count++] = ChildLimit{.resource = resource, .soft = soft, .hard = hard};
}

}  // namespace

const SandboxInfo& configure_sandbox(double cpu_seconds) {
    if (cpu_seconds > 0) cpu_limit() = static_cast<rlim_t>(std::ceil(cpu_seconds));
    info().pid_namespace = pid_namespace_works();
    info().summary = info().pid_namespace ? "pid namespace + rlimits" : "rlimits only";
    return info();
}

const SandboxInfo& sandbox_info() {
    return info();
}

ChildLimits sandbox_limits(const std::string& path, std::optional<rlim_t> files_wanted) {
    ChildLimits l;
    rlimit current{};
    rlim_t files = files_wanted.value_or(open_files);
    if (::getrlimit(RLIMIT_NOFILE, &current) == 0 && current.rlim_max != RLIM_INFINITY) {
        files = std::min(files, current.rlim_max);
    }
    add(l, RLIMIT_NOFILE, files, files);
    add(l, RLIMIT_CORE, 0, 0);
    add(l, RLIMIT_FSIZE, file_bytes, file_bytes);
    if (cpu_limit() != RLIM_INFINITY) {
        // SIGXCPU at the soft limit, SIGKILL at the hard one.
        add(l, RLIMIT_CPU, cpu_limit(), cpu_limit() + 5);
    }
    if (!built_with_sanitizer(path)) add(l, RLIMIT_DATA, data_bytes, data_bytes);
    if (::geteuid() != 0) {
        // Counted per real user, over all of the user's processes: room
        // for what the user runs now plus a server's many children.
        static const rlim_t processes = user_processes() + extra_processes;
        add(l, RLIMIT_NPROC, processes, processes);
    }
    return l;
}

int apply_limits(const ChildLimits& limits) noexcept {
    for (std::size_t i = 0; i < limits.count; ++i) {
        const ChildLimit& c = limits.limits[i];
        rlimit value{};
        if (::getrlimit(c.resource, &value) != 0) return errno;
        // Never above the inherited hard limit: only root could raise it.
        value.rlim_max = std::min(value.rlim_max, c.hard);
        value.rlim_cur = std::min(value.rlim_max, c.soft);
        if (::setrlimit(c.resource, &value) != 0) return errno;
    }
    return 0;
}

namespace {

// The sanitizer runtimes' init symbols, as they appear in an executable.
constexpr std::string_view sanitizer_markers[] = {"__asan_init", "__tsan_init", "__msan_init"};

// Which of sanitizer_markers the executable at @p path holds, as bits in
// their order (0: none, or unreadable). Read once per path.
unsigned sanitizer_bits(const std::string& path) {
    static std::mutex m;
    static std::map<std::string, unsigned> known;
    const std::lock_guard lock(m);
    if (const auto it = known.find(path); it != known.end()) return it->second;
    std::string bytes;
    if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
        char chunk[64 * 1024];
        ssize_t n = 0;
        while ((n = ::read(fd, chunk, sizeof chunk)) > 0) {
            bytes.append(chunk, static_cast<std::size_t>(n));
        }
        ::close(fd);
    }
    unsigned found = 0;
    for (std::size_t i = 0; i < std::size(sanitizer_markers); ++i) {
        if (bytes.find(sanitizer_markers[i]) != std::string::npos) found |= 1u << i;
    }
    known[path] = found;
    return found;
}

}  // namespace

bool built_with_sanitizer(const std::string& path) {
    return sanitizer_bits(path) != 0;
}

bool built_with_thread_sanitizer(const std::string& path) {
    return (sanitizer_bits(path) & 2u) != 0;  // __tsan_init
}

}  // namespace csd::grade
