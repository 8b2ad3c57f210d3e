// Broken servers of the rst lab (docs/contract.md, section 6, "rst"): one
// request per connection, its reply, then the close. Each is right except
// for the one bug that its name says (broken-BUG, see broken_bug.hpp):
//
//   rst-fin      closes normally (a FIN): the client reads EOF, not
//                ECONNRESET, and the server's side keeps a TIME_WAIT (fails
//                rst and time-wait)
//   rst-no-wait  resets as soon as the reply is written, without waiting
//                until it is acknowledged: the RST throws away what the
//                send queue still holds (fails reply)
//   rst-sleep-1s sleeps a fixed second after the reply instead of watching
//                its send queue, then resets: a client slower than that
//                loses the end of its reply (fails reply)
//   rst-no-limit waits for the send queue to empty (SIOCOUTQ) before the
//                reset, as it should, but with no 10 s limit on a client:
//                one that sends nothing, or never reads, holds the server
//                forever (fails client-limit)
//   rst-queue-no-limit  10 s for the request and for the writes (from the
//                accept), but the wait for the send queue has no limit: a
//                client whose whole reply was written and who never reads
//                holds the server forever (fails client-limit)
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: rst-fin rst rst control reply
// test: rst-fin rst time-wait control reply
// test: rst-no-wait rst reply control rst time-wait
//   A fixed second instead of the send-queue wait (issue 20: it had full marks).
// test: rst-sleep-1s rst reply control rst
//   No limit on a client: a silent one holds the server (issue 20: full marks).
// test: rst-no-limit rst client-limit control reply rst
//   Limits on the request and the writes, none on the send-queue wait
//   (issue 20: it had full marks).
// test: rst-queue-no-limit rst client-limit control reply rst
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string_view>

#include "broken_bug.hpp"
#include "test_server.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

// The one request line of @p fd (blocking); its N, or 0.
std::uint64_t read_request(int fd) {
    std::string line;
    char buf[64];
    while (line.find('\n') == std::string::npos && line.size() <= 32) {
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR && !test_server::stop) continue;
        if (got <= 0) return 0;
        line.append(buf, static_cast<std::size_t>(got));
    }
    const auto nl = line.find('\n');
    return nl == std::string::npos ? 0 : test_server::parse_request(line.substr(0, nl));
}

// rst-queue-no-limit: writes the @p n reply bytes to @p fd (non-blocking
// sends, poll() for room) until @p end; false when the time ran out.
bool send_within(int fd, std::uint64_t n, std::chrono::steady_clock::time_point end) {
    char buf[26 * 1024];
    for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<char>('a' + i % 26);
    std::uint64_t sent = 0;
    while (sent < n) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const std::size_t at = static_cast<std::size_t>(sent % 26);
        const std::size_t len =
            static_cast<std::size_t>(std::min<std::uint64_t>(n - sent, sizeof buf - 26));
        const ssize_t w = ::send(fd, buf + at, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w < 0) return false;
        sent += static_cast<std::uint64_t>(w);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0],
                                "rst-fin rst-no-wait rst-sleep-1s rst-no-limit rst-queue-no-limit");
    const test_server::Options options = test_server::parse(argc, argv);
    test_server::catch_stop();
    const int listener = test_server::listen_on(options);
    test_server::announce(options);
    while (!test_server::stop) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        if (bug == "rst-queue-no-limit") {
            const timeval ten{10, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof ten);
        }
        const auto accepted = std::chrono::steady_clock::now();
        const std::uint64_t n = read_request(fd);
        const bool sent = n > 0 && (bug == "rst-queue-no-limit"
                                        ? send_within(fd, n, accepted + std::chrono::seconds(10))
                                        : test_server::send_reply(fd, n));
        if (bug == "rst-sleep-1s") ::usleep(1000 * 1000);
        if (bug == "rst-no-limit" || (bug == "rst-queue-no-limit" && sent)) {
            // Until the whole reply is acknowledged, however long that takes.
            for (int queued = 1; queued > 0 && !test_server::stop;) {
                if (::ioctl(fd, SIOCOUTQ, &queued) != 0) break;
                if (queued > 0) ::usleep(1000);
            }
        }
        if (bug == "rst-no-wait" || bug == "rst-sleep-1s" || bug == "rst-no-limit" ||
            bug == "rst-queue-no-limit") {
            const linger abort{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        }
        ::close(fd);
    }
    return 0;
}
