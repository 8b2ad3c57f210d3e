#include "perf_calls.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

#include "command.hpp"
#include "csd/fd.hpp"
#include "deadline.hpp"
#include "process.hpp"
#include "server.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

std::uint64_t PerfEvent::field(std::string_view key, std::uint64_t otherwise) const {
    const auto it = fields.find(key);
    return it == fields.end() ? otherwise : it->second;
}

int PerfEvent::fd() const {
    for (const std::string_view key : {"fd", "epfd", "out_fd", "fd_out"}) {
        if (const auto it = fields.find(key); it != fields.end()) {
            return static_cast<int>(static_cast<std::int32_t>(it->second));
        }
    }
    return -1;
}

namespace {

// "0x0000001f" or "31": the number, or nullopt.
std::optional<std::uint64_t> number(std::string_view text) {
    if (text.empty()) return std::nullopt;
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (errno != 0 || end != s.c_str() + s.size()) return std::nullopt;
    return v;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// One line "  PID/TID EVENT: FIELDS", or nullopt for any other line.
std::optional<PerfEvent> parse_line(std::string_view line) {
    line = trim(line);
    const auto slash = line.find('/');
    const auto space = line.find(' ');
    if (slash == std::string_view::npos || space == std::string_view::npos || slash > space) {
        return std::nullopt;
    }
    const auto pid = number(line.substr(0, slash));
    const auto tid = number(line.substr(slash + 1, space - slash - 1));
    if (!pid || !tid) return std::nullopt;
    std::string_view rest = trim(line.substr(space));
    const auto colon = rest.find(": ");
    std::string_view event = colon == std::string_view::npos ? rest : rest.substr(0, colon);
    if (event.ends_with(':')) event.remove_suffix(1);  // a call without arguments
    std::string_view fields =
        colon == std::string_view::npos ? std::string_view() : trim(rest.substr(colon + 2));
    PerfEvent e;
    e.pid = static_cast<pid_t>(*pid);
    e.tid = static_cast<pid_t>(*tid);
    constexpr std::string_view enter = "syscalls:sys_enter_";
    if (event.starts_with(enter)) {
        e.name = std::string(event.substr(enter.size()));
        // "fd: 0x00000003, level: 0x00000006, ..."
        while (!fields.empty()) {
            const auto comma = fields.find(", ");
            const std::string_view item = fields.substr(0, comma);
            fields =
                comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 2);
            const auto sep = item.find(": ");
            if (sep == std::string_view::npos) continue;
            if (const auto v = number(trim(item.substr(sep + 2)))) {
                e.fields.emplace(std::string(trim(item.substr(0, sep))), *v);
            }
        }
        return e;
    }
    if (event == "sched:sched_process_exit") {
        e.name = "task-exit";
        // "comm=NAME pid=17951 prio=120 group_dead=true": NAME may hold
        // spaces, the fields after it do not.
        std::istringstream words{std::string(fields)};
        for (std::string w; words >> w;) {
            const auto eq = w.find('=');
            if (eq == std::string::npos || w.starts_with("comm=")) continue;
            const std::string key = w.substr(0, eq);
            const std::string value = w.substr(eq + 1);
            if (value == "true" || value == "false") {
                e.fields[key] = value == "true" ? 1 : 0;
            } else if (const auto v = number(value)) {
                e.fields[key] = *v;
            }
        }
        return e;
    }
    return std::nullopt;
}

// The program @p name on PATH, or "".
std::string on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

// The directory of the kernel's syscall tracepoints, or "".
std::string syscall_events_dir() {
    for (const char* dir :
         {"/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls"}) {
        if (::access(dir, R_OK | X_OK) == 0) return dir;
    }
    return {};
}

}  // namespace

std::vector<PerfEvent> parse_perf_script(std::string_view text) {
    std::vector<PerfEvent> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (auto e = parse_line(text.substr(0, nl))) out.push_back(std::move(*e));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    return out;
}

PerfCalls::PerfCalls(pid_t pid, const std::vector<std::string>& calls, bool task_exits)
    : pid_(pid) {
    const std::string perf = on_path("perf");
    if (perf.empty()) {
        why_not_ = "perf is not installed (./csd installs linux-perf)";
        return;
    }
    const std::string events = syscall_events_dir();
    if (events.empty()) {
        why_not_ = "the kernel's system call tracepoints are not readable here (tracefs)";
        return;
    }
    std::vector<std::string> argv{perf, "record", "-q", "-B", "-N", "-D", "-1"};
    for (const std::string& call : calls) {
        if (::access((events + "/sys_enter_" + call).c_str(), F_OK) != 0) continue;
        argv.insert(argv.end(), {"-e", "syscalls:sys_enter_" + call});
    }
    if (task_exits) argv.insert(argv.end(), {"-e", "sched:sched_process_exit"});

    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/csd-grade-perf.XXXXXX";
    // No exception from here on: a constructor that throws leaves its
    // destructor unrun, and with it perf and the directory.
    if (::mkdtemp(templ.data()) == nullptr) {
        why_not_ = fmt::format("mkdtemp {}: {}", templ, std::strerror(errno));
        return;
    }
    dir_ = templ;
    const std::string ctl = dir_ + "/ctl";
    const std::string ack = dir_ + "/ack";
    if (::mkfifo(ctl.c_str(), 0600) != 0 || ::mkfifo(ack.c_str(), 0600) != 0) {
        why_not_ = fmt::format("mkfifo in {}: {}", dir_, std::strerror(errno));
        return;
    }
    argv.insert(argv.end(), {"--control", fmt::format("fifo:{},{}", ctl, ack), "-o",
                             dir_ + "/perf.data", "-p", std::to_string(pid)});

    const csd::Fd err(::memfd_create("csd-grade-perf", MFD_CLOEXEC));
    try {
        perf_ = spawn(argv, -1, err.get());
    } catch (const std::system_error& e) {
        why_not_ = fmt::format("perf record could not start: {}", e.what());
        return;
    }
    // Started with its events off (-D -1): "enable" on the control fifo
    // turns them on, and perf answers "ack" once they are.
    const Deadline ready(3s);
    csd::Fd to_perf;
    csd::Fd from_perf;
    std::string answer;
    while (!ready.expired() && !child_status(perf_)) {
        if (!to_perf) {
            // perf opens the fifo for reading once it has its events;
            // until then there is no reader (ENXIO).
            const int fd = ::open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) {
                to_perf = csd::Fd(fd);
                from_perf = csd::Fd(::open(ack.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
                if (!from_perf) break;
                constexpr std::string_view enable = "enable\n";
                if (::write(to_perf.get(), enable.data(), enable.size()) !=
                    static_cast<ssize_t>(enable.size())) {
                    break;
                }
            }
        } else {
            char buf[64];
            const ssize_t n = ::read(from_perf.get(), buf, sizeof buf);
            if (n > 0) answer.append(buf, static_cast<std::size_t>(n));
            if (answer.find("ack") != std::string::npos) return;
        }
        std::this_thread::sleep_for(2ms);
    }
    stop();
    why_not_ = fmt::format("perf record could not record the server (pid {}): {}", pid,
                           err ? tail_lines(read_all(err.get()), 2) : std::string());
    if (why_not_.ends_with(": ")) why_not_ += "no answer on its control fifo";
}

PerfCalls::~PerfCalls() {
    stop();
    if (!dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
}

void PerfCalls::stop() {
    if (perf_ <= 0) return;
    // SIGINT: perf stops recording, writes its data file and exits.
    ::kill(perf_, SIGINT);
    if (!wait_child(perf_, Deadline(5s))) {
        ::kill(perf_, SIGKILL);
        (void)wait_child(perf_, Deadline(2s));
    }
    perf_ = -1;
}

std::optional<std::vector<PerfEvent>> PerfCalls::finish() {
    stop();
    CommandResult script;
    try {
        script = run_command(
            {on_path("perf"), "script", "-i", dir_ + "/perf.data", "-F", "pid,tid,event,trace"},
            10s);
    } catch (const std::system_error& e) {
        why_not_ = fmt::format("perf script could not start: {}", e.what());
        return std::nullopt;
    }
    if (!script.succeeded()) {
        why_not_ = fmt::format("perf script could not read what perf recorded: {}",
                               tail_lines(script.output, 2));
        return std::nullopt;
    }
    std::vector<PerfEvent> events = parse_perf_script(script.output);
    std::erase_if(events, [&](const PerfEvent& e) { return e.pid != pid_; });
    return events;
}

}  // namespace csd::grade
