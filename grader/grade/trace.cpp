#include "trace.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <system_error>
#include <thread>

#include "deadline.hpp"
#include "process.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The strace program on PATH, or "" when there is none.
std::string find_strace() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/strace";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

// The TracerPid of process @p pid (0: not traced), -1 when unreadable.
long tracer_of(pid_t pid) {
    std::ifstream status(fmt::format("/proc/{}/status", pid));
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("TracerPid:", 0) == 0) return std::stol(line.substr(10));
    }
    return -1;
}

}  // namespace

OutputTrace::OutputTrace(pid_t pid) {
    const std::string strace = find_strace();
    if (strace.empty()) {
        why_not_ = "strace is not installed (./csd installs it)";
        return;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "csd-trace-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
        why_not_ = fmt::format("no temporary file for the trace: {}",
                               std::generic_category().message(errno));
        return;
    }
    ::close(fd);
    path_ = tmpl;
    strace_ = spawn({strace, "-f", "-qq", "-e", "trace=write,writev,send,sendto,sendmsg", "-e",
                     "signal=none", "-o", path_, "-p", std::to_string(pid)},
                    -1, -1);
    const Deadline attach(2s);
    while (tracer_of(pid) != strace_) {
        if (child_status(strace_) || attach.expired()) {
            why_not_ = fmt::format("strace could not attach to pid {} (ptrace not permitted?)", pid);
            return;
        }
        std::this_thread::sleep_for(5ms);
    }
}

OutputTrace::~OutputTrace() {
    if (strace_ > 0 && !child_status(strace_)) {
        ::kill(strace_, SIGKILL);
        wait_child(strace_, Deadline(2s));
    }
    if (!path_.empty()) ::unlink(path_.c_str());
}

TraceResult OutputTrace::finish() {
    if (!why_not_.empty()) return why_not_;
    // SIGINT: strace detaches from every thread, flushes its file, exits.
    ::kill(strace_, SIGINT);
    if (!wait_child(strace_, Deadline(3s))) return std::string("strace did not detach in time");
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return parse_output_calls(text.str());
}

std::vector<OutputCall> parse_output_calls(const std::string& text) {
    static const std::regex call(
        R"(^(?:\[pid\s+\d+\]\s+|\d+\s+)?(write|writev|send|sendto|sendmsg)\((\d+),.*\)\s+=\s+(\d+)\b)");
    std::vector<OutputCall> calls;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!std::regex_search(line, m, call)) continue;
        calls.push_back({m[1].str(), std::stoi(m[2].str()), std::stoll(m[3].str())});
    }
    return calls;
}

}  // namespace csd::grade
