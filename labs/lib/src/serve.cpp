#include "csd/serve.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "csd/error.hpp"
#include "csd/protocol.hpp"
#include "csd/signals.hpp"

namespace csd {
namespace {

/// Waits until @p fd is ready for @p events or a stop is requested;
/// returns false on stop. A signal just ends the wait.
bool wait_for(int fd, short events) {
    pollfd p[2] = {{fd, events, 0}, {stop_fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) throw_errno("poll");
    return !stop_requested() && p[1].revents == 0;
}

/// What one non-blocking attempt at the socket came to.
enum class Step { progress, wait, gone };

/// Classifies a failed recv/send: wait (would block, EINTR), gone, or throws.
Step failed(const char* call) {
    if (would_block(errno) || errno == EINTR) return Step::wait;
    if (peer_gone(errno)) return Step::gone;
    throw_errno(call);
}

}  // namespace

ConnectionEnd serve_connection(int fd) {
    Session session;
    std::array<char, 4096> buf{};
    // Every call is non-blocking (MSG_DONTWAIT); the waits are poll() on
    // the socket and the stop descriptor, so a stop is seen even while the
    // client is idle, or not reading.
    for (;;) {
        if (stop_requested()) return ConnectionEnd::stopped;
        // Answer everything received before reading more: the reply to a
        // pipelined request never waits for the next request.
        if (session.has_output()) {
            const std::string_view out = session.output();
            const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            const Step step = n >= 0 ? Step::progress : failed("send");
            if (step == Step::gone) return ConnectionEnd::peer_gone;
            if (step == Step::progress) {
                session.consume(static_cast<std::size_t>(n));
            } else if (!wait_for(fd, POLLOUT)) {
                return ConnectionEnd::stopped;
            }
            continue;
        }
        if (session.finished()) {
            return session.malformed() ? ConnectionEnd::malformed : ConnectionEnd::closed;
        }
        // Read no more than the session is sure to take (back-pressure).
        const std::size_t room = std::min(buf.size(), session.input_room());
        const ssize_t n = ::recv(fd, buf.data(), room, MSG_DONTWAIT);
        if (n == 0) {
            session.end_of_input();
            continue;
        }
        const Step step = n > 0 ? Step::progress : failed("recv");
        if (step == Step::gone) return ConnectionEnd::peer_gone;
        if (step == Step::progress) {
            (void)session.feed({buf.data(), static_cast<std::size_t>(n)});
        } else if (!wait_for(fd, POLLIN)) {
            return ConnectionEnd::stopped;
        }
    }
}

}  // namespace csd
