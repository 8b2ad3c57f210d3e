#include "children.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <string_view>

#include "child.hpp"
#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/signals.hpp"
#include "record.hpp"

namespace csd::client {
namespace {

/// Waits for @p pid, retrying after signals; returns its wait status.
int wait_for_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) csd::throw_errno("waitpid");
    }
    return status;
}

/// In a new child: the parent's signal routing off, death with the parent,
/// the report pipe's read end closed; then the child's work. Never returns.
[[noreturn]] void become_child(int number, const ClientOptions& options, const Address& address,
                               pid_t parent, Fd& read_end, int write_end) {
    csd::reset_signals_in_child();
    // If the client itself is killed, its children must not go on.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || ::getppid() != parent) ::_exit(1);
    read_end.reset();
    ::_exit(run_child(number, options, address, write_end));
}

}  // namespace

Children::~Children() {
    signal_all(SIGKILL);
    for (const auto& [number, pid] : running_) {
        int status = 0;
        while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
        }
    }
}

void Children::add(int number, pid_t pid) {
    running_.emplace_back(number, pid);
}

void Children::signal_all(int signal) noexcept {
    for (const auto& [number, pid] : running_) ::kill(pid, signal);
}

std::vector<std::pair<int, int>> Children::reap_all() {
    std::vector<std::pair<int, int>> ended;
    while (!running_.empty()) {
        const auto [number, pid] = running_.back();
        const int status = wait_for_child(pid);
        running_.pop_back();
        ended.emplace_back(number, status);
    }
    return ended;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "ended with wait status " + std::to_string(status);
}

bool run_children(const ClientOptions& options, const Address& address, Tally& tally) {
    std::array<int, 2> ends{};
    csd::check(::pipe2(ends.data(), O_CLOEXEC), "pipe2");
    Fd read_end(ends[0]);
    Fd write_end(ends[1]);

    Children children;
    const pid_t parent = ::getpid();
    std::fflush(nullptr);  // nothing buffered may be written twice
    for (int number = 1; number <= options.children; ++number) {
        const pid_t pid = csd::check(::fork(), "fork");
        if (pid == 0) become_child(number, options, address, parent, read_end, write_end.get());
        children.add(number, pid);
    }
    write_end.reset();  // EOF on the pipe once every child is gone

    bool interrupted = false;
    LineSplitter lines;
    std::array<char, 64 * 1024> buffer{};
    std::array<pollfd, 2> waits{{{read_end.get(), POLLIN, 0}, {csd::signal_fd(), POLLIN, 0}}};
    for (;;) {
        if (::poll(waits.data(), waits.size(), -1) == -1) {
            if (errno == EINTR) continue;
            csd::throw_errno("poll");
        }
        if (waits[1].revents != 0 && !csd::drain_signals().empty()) {
            interrupted = true;
            children.signal_all(SIGKILL);
            break;
        }
        if (waits[0].revents == 0) continue;
        const ssize_t n = ::read(read_end.get(), buffer.data(), buffer.size());
        if (n == 0) break;
        if (n == -1) {
            if (errno == EINTR) continue;
            csd::throw_errno("read");
        }
        lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)),
                   [&](std::string_view line) { tally.add_line(line); });
    }
    for (const auto& [number, status] : children.reap_all())
        if (!interrupted) tally.child_ended(number, describe_wait_status(status));
    return !interrupted;
}

}  // namespace csd::client
