#include "trace.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <sstream>
#include <thread>

#include "csd/error.hpp"
#include "deadline.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "server.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

bool is_tracer_probe_call(std::string_view name) noexcept {
    return name == "open" || name == "openat" || name == "ptrace";
}

std::string tracer_probe(const std::string& trace, pid_t root) {
    // /proc/self/status, /proc/1234/status, /proc/thread-self/status,
    // /proc/1234/task/1235/status: each has the TracerPid line.
    static const std::regex status_file(R"(^/proc/(self|thread-self|\d+)(/task/\d+)?/status$)");
    static const std::regex opens_status(
        R"(\bopen(at)?\(.*"/proc/(self|thread-self|\d+)(/task/\d+)?/status")");
    static const std::regex calls_ptrace(R"((^|\s)ptrace\()");
    std::istringstream in(trace);
    for (std::string line; std::getline(in, line);) {
        // Most lines are neither: the regexes only see the candidates.
        if (line.find("/status\"") == std::string::npos &&
            line.find("ptrace(") == std::string::npos) {
            continue;
        }
        if (std::regex_search(line, opens_status) || std::regex_search(line, calls_ptrace)) {
            return "strace saw: " + line;
        }
    }
    if (root <= 0) return {};
    for (const pid_t pid : procfs::process_tree(root)) {
        for (const auto& fd : procfs::open_fds(pid)) {
            if (std::regex_match(fd.target, status_file)) {
                return fmt::format("process {} holds descriptor {} open on {}", pid, fd.fd,
                                   fd.target);
            }
        }
    }
    return {};
}

std::string find_strace() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/strace";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

Strace::Strace(pid_t pid, const std::string& calls, bool show_signals) {
    const std::string strace = find_strace();
    if (strace.empty()) {
        why_not_ =
            "strace is not installed (./csd installs it): the server's system calls "
            "cannot be seen";
        return;
    }
    out_ = csd::Fd(csd::check(::memfd_create("csd-grade-strace", MFD_CLOEXEC), "memfd_create"));
    strace_ = spawn({strace, "-f", "-qq", "-e", "trace=" + calls, "-e",
                     show_signals ? "signal=all" : "signal=none", "-p", std::to_string(pid)},
                    -1, out_.get());
    // strace attaches to the threads one after another: until every one of
    // them is traced (io_uring's kernel workers cannot be), what a thread
    // not attached yet does is not seen. Under a sanitizer and a busy
    // machine that took long enough for idle threads to close their
    // client and end, unseen, after the SIGTERM that followed.
    const Deadline attach(3s);
    const auto all_attached = [&] {
        if (procfs::tracer_pid(pid).value_or(0) != strace_) return false;
        for (const pid_t tid : procfs::thread_ids(pid)) {
            if (procfs::is_io_worker(pid, tid)) continue;
            const auto tracer = procfs::task_tracer_pid(pid, tid);
            if (tracer && *tracer != strace_) return false;  // not yet (gone: no matter)
        }
        return true;
    };
    while (!all_attached()) {
        if (child_status(strace_)) break;  // strace gave up
        if (attach.expired()) {
            // The main thread at least: go on with what is traced.
            if (procfs::tracer_pid(pid).value_or(0) == strace_) return;
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    if (all_attached()) return;
    end();
    why_not_ = fmt::format("strace could not attach to the server (pid {}): {}", pid,
                           tail_lines(read_all(out_.get()), 2));
}

Strace::~Strace() {
    end();
}

void Strace::end() {
    if (strace_ <= 0) return;
    // SIGINT: strace detaches from every thread, writes what it holds, exits.
    ::kill(strace_, SIGINT);
    if (!wait_child(strace_, Deadline(3s))) {
        ::kill(strace_, SIGKILL);
        (void)wait_child(strace_, Deadline(2s));
    }
    strace_ = -1;
}

std::string Strace::finish() {
    end();
    return out_ ? read_all(out_.get()) : std::string();
}

}  // namespace csd::grade
