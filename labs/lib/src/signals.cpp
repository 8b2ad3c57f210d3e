#include "csd/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "csd/error.hpp"

namespace csd {
namespace {

// Read by handlers and by any thread, so lock-free atomics only.
static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag must be signal-safe");
static_assert(std::atomic<int>::is_always_lock_free, "descriptors read by handlers");
std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_fd{-1};
std::atomic<int> g_pipe_read{-1};
std::atomic<int> g_pipe_write{-1};
std::array<int, 16> g_routed{};  // signals routed so far (main thread only)
std::size_t g_routed_count = 0;

extern "C" void on_routed_signal(int sig) {
    const int saved = errno;  // the interrupted code may be about to read errno
    if (sig == SIGTERM || sig == SIGINT) request_stop();
    const auto byte = static_cast<unsigned char>(sig);
    // Non-blocking pipe: when it is full, a wakeup is already pending anyway.
    [[maybe_unused]] ssize_t n = ::write(g_pipe_write.load(), &byte, 1);
    errno = saved;
}

void ensure_pipe() {
    if (g_pipe_read.load() >= 0) return;
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), "pipe2");
    g_pipe_read.store(fds[0]);
    g_pipe_write.store(fds[1]);
}

bool is_routed(int sig) noexcept {
    for (std::size_t i = 0; i < g_routed_count; ++i) {
        if (g_routed[i] == sig) return true;
    }
    return false;
}

}  // namespace

void route_signals(std::initializer_list<int> signals) {
    // Check everything first: install nothing when the list is wrong.
    if (g_routed_count + signals.size() > g_routed.size()) {
        throw std::logic_error("route_signals: more than " + std::to_string(g_routed.size()) +
                               " signals routed");
    }
    for (auto it = signals.begin(); it != signals.end(); ++it) {
        bool twice = is_routed(*it);
        for (auto before = signals.begin(); before != it; ++before) twice = twice || *before == *it;
        if (twice) {
            throw std::logic_error("route_signals: signal " + std::to_string(*it) +
                                   " routed twice");
        }
    }
    ensure_pipe();
    (void)stop_fd();
    for (int sig : signals) {
        struct sigaction sa {};
        sa.sa_handler = on_routed_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
        check(::sigaction(sig, &sa, nullptr), "sigaction");
        g_routed[g_routed_count++] = sig;
    }
}

int signal_fd() noexcept {
    return g_pipe_read.load();
}

std::vector<int> drain_signals() {
    std::vector<int> seen;
    const int fd = g_pipe_read.load();
    if (fd < 0) return seen;
    unsigned char buf[64];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            seen.insert(seen.end(), buf, buf + n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && !would_block(errno)) throw_errno("read(signal pipe)");
        return seen;
    }
}

int stop_fd() {
    if (const int fd = g_stop_fd.load(); fd >= 0) return fd;
    const int fd = check(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
    g_stop_fd.store(fd);
    if (g_stop.load()) request_stop();  // requested before the descriptor existed
    return fd;
}

void request_stop() noexcept {
    g_stop.store(true);
    if (const int fd = g_stop_fd.load(); fd >= 0) {
        const std::uint64_t one = 1;
        // Non-blocking; the counter only grows and is never read, so the
        // descriptor stays readable.
        [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
    }
}

bool stop_requested() noexcept {
    return g_stop.load();
}

bool wait_for_stop(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd p{stop_fd(), POLLIN, 0};
    while (!stop_requested()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
            throw_errno("poll");
    }
    return stop_requested();
}

void ignore_sigpipe() {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    check(::sigaction(SIGPIPE, &sa, nullptr), "sigaction(SIGPIPE)");
}

pid_t fork_child() noexcept {
    sigset_t routed;
    sigemptyset(&routed);
    for (std::size_t i = 0; i < g_routed_count; ++i) sigaddset(&routed, g_routed[i]);
    sigset_t before;
    if (const int rc = ::pthread_sigmask(SIG_BLOCK, &routed, &before); rc != 0) {
        errno = rc;
        return -1;
    }
    const pid_t pid = ::fork();
    const int fork_errno = errno;
    if (pid == 0) {
        // No routed handler can run here: they are blocked. Reset, then
        // unblock: a pending SIGTERM now has its default action.
        reset_signals_in_child();
    }
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    errno = fork_errno;
    return pid;
}

void reset_signals_in_child() noexcept {
    for (std::size_t i = 0; i < g_routed_count; ++i) ::signal(g_routed[i], SIG_DFL);
    g_routed_count = 0;
    for (std::atomic<int>* fd : {&g_pipe_read, &g_pipe_write, &g_stop_fd}) {
        if (const int old = fd->exchange(-1); old >= 0) ::close(old);
    }
    g_stop.store(false);
}

Wakeup wait_readable(int fd) {
    pollfd fds[3] = {
        {fd, POLLIN, 0}, {g_pipe_read.load(), POLLIN, 0}, {g_stop_fd.load(), POLLIN, 0}};
    for (;;) {
        if (stop_requested()) return Wakeup::signal;
        // A negative descriptor is ignored by poll().
        const int n = ::poll(fds, 3, -1);
        if (n < 0 && errno == EINTR) {
            drain_signals();
            return Wakeup::signal;
        }
        check(n, "poll");
        if ((fds[1].revents & POLLIN) != 0) {
            drain_signals();
            return Wakeup::signal;
        }
        if (fds[2].revents != 0) return Wakeup::signal;
        if (fds[0].revents != 0) return Wakeup::readable;
    }
}

}  // namespace csd
