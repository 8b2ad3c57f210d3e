#include "csd/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cerrno>

#include "csd/error.hpp"

namespace csd {
namespace {

// Written by handlers, so plain ints and lock-free atomics only.
int g_pipe_read = -1;
int g_pipe_write = -1;
volatile std::sig_atomic_t g_stop = 0;
std::array<int, 16> g_routed{};  // signals routed so far (main thread only)
std::size_t g_routed_count = 0;

extern "C" void on_routed_signal(int sig) {
    const int saved = errno;  // the interrupted code may be about to read errno
    if (sig == SIGTERM || sig == SIGINT) g_stop = 1;
    const auto byte = static_cast<unsigned char>(sig);
    // Non-blocking pipe: when it is full, a wakeup is already pending anyway.
    [[maybe_unused]] ssize_t n = ::write(g_pipe_write, &byte, 1);
    errno = saved;
}

void ensure_pipe() {
    if (g_pipe_read >= 0) return;
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), "pipe2");
    g_pipe_read = fds[0];
    g_pipe_write = fds[1];
}

}  // namespace

void route_signals(std::initializer_list<int> signals) {
    ensure_pipe();
    for (int sig : signals) {
        struct sigaction sa {};
        sa.sa_handler = on_routed_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
        check(::sigaction(sig, &sa, nullptr), "sigaction");
        if (g_routed_count < g_routed.size()) g_routed[g_routed_count++] = sig;
    }
}

int signal_fd() noexcept { return g_pipe_read; }

std::vector<int> drain_signals() {
    std::vector<int> seen;
    if (g_pipe_read < 0) return seen;
    unsigned char buf[64];
    for (;;) {
        const ssize_t n = ::read(g_pipe_read, buf, sizeof buf);
        if (n > 0) {
            seen.insert(seen.end(), buf, buf + n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && !would_block(errno)) throw_errno("read(signal pipe)");
        return seen;
    }
}

bool stop_requested() noexcept { return g_stop != 0; }

void ignore_sigpipe() {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    check(::sigaction(SIGPIPE, &sa, nullptr), "sigaction(SIGPIPE)");
}

void reset_signals_in_child() noexcept {
    for (std::size_t i = 0; i < g_routed_count; ++i) ::signal(g_routed[i], SIG_DFL);
    if (g_pipe_read >= 0) {
        ::close(g_pipe_read);
        ::close(g_pipe_write);
        g_pipe_read = g_pipe_write = -1;
    }
    g_stop = 0;
}

Wakeup wait_readable(int fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {g_pipe_read, POLLIN, 0}};
    const nfds_t count = g_pipe_read >= 0 ? 2 : 1;
    for (;;) {
        const int n = ::poll(fds, count, -1);
        if (n < 0 && errno == EINTR) {
            drain_signals();
            return Wakeup::signal;
        }
        check(n, "poll");
        if (count == 2 && (fds[1].revents & POLLIN)) {
            drain_signals();
            return Wakeup::signal;
        }
        if (fds[0].revents != 0) return Wakeup::readable;
    }
}

}  // namespace csd
