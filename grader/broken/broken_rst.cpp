// Broken servers of the rst lab (docs/contract.md, section 6, "rst"): one
// request per connection, its reply, then the close. One client at a time,
// on a non-blocking socket, every wait bounded by the client's 10 s (from
// its accept) and by the stop; the acknowledgement awaited with SIOCOUTQ,
// a millisecond apart; then SO_LINGER {1, 0} and close(). Each is right
// except for the one bug that its name says (broken-BUG, see broken_bug.hpp):
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
//   rst-no-limit no 10 s limit on a client: one that sends nothing, or
//                never reads, holds the server forever (fails client-limit)
//   rst-queue-no-limit  10 s for the request and for the writes (from the
//                accept), but the wait for the send queue has no limit: a
//                client whose whole reply was written and who never reads
//                holds the server forever (fails client-limit)
//   rst-fresh-deadline  10 s for each wait instead of 10 s in all: a client
//                that sends a byte every few seconds holds it forever
//                (fails client-limit)
//   rst-12s      12.5 s per client instead of 10 (fails client-limit)
//   rst-read-fresh  10 s in all for the reply, but 10 s for each wait of the
//                request: a client that sends a digit every 2 s and never
//                ends its line holds the server (fails client-limit)
//   rst-ack-fresh  10 s in all for the request and the writes, then a fresh
//                10 s for the acknowledgement: a client that takes 9 s to send
//                its request and never reads holds the server 19 s (fails
//                client-limit; the fourth red-team of issue 20: full marks)
//   rst-phase-deadline  10 s for the request, then a fresh 10 s for the
//                reply and its acknowledgement (fails client-limit)
//   rst-progress-deadline  10 s in all, but restarted whenever a write
//                moves some bytes: a slow but steady reader holds the server
//                (fails client-limit)
//   rst-spin-write  10 s in all, but a full send queue is tried again at
//                once instead of waited for in poll(): a CPU spent on a slow
//                reader (fails client-limit)
//   rst-spin-ack looks at its send queue again and again without sleeping:
//                a CPU spent while a client does not read (fails client-limit)
//   rst-no-wait-small  skips the wait for replies up to 8 KiB (fails reply)
//   rst-grace-2s  looks at its send queue once: not empty, it waits a fixed
//                2 s (watching the stop) and resets; a client that reads at
//                once gets its end 2 s late (fails reply)
//   rst-fin-malformed  a malformed request gets a FIN (fails rst)
//   rst-disconnect  resets with connect(AF_UNSPEC), a Linux disconnect, and
//                never sets SO_LINGER (fails rst, under strace)
//   rst-not-sent-only  waits until the send queue holds nothing unsent
//                (SIOCOUTQNSD), not nothing unacknowledged (fails rst, under
//                strace)
//   rst-any-address  listens on 0.0.0.0 whatever -i says (fails start)
//   rst-fd-leak  leaks a descriptor of /dev/null per connection (fails fd-leak)
//   rst-crash-odd  aborts on a request line over 32 bytes (fails malformed)
//   rst-ack-wait-ignores-stop  the wait for the send queue does not look at
//                the stop: SIGTERM waits for it (fails sigterm)
//   rst-fin-at-stop  the connection in progress at the stop is closed
//                normally: its client gets a FIN, not an RST, as from a
//                server that exits in its SIGTERM handler (fails sigterm)
//   rst-fin-reading-at-stop  the same only for a connection whose request is
//                still being read at the stop (fails sigterm: a silent
//                connection of the burst being read ends with a FIN)
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass. The control
// is rst where it can be (5 short connections): reply's pauses take seconds.
// test: rst-fin rst rst control reply
// test: rst-fin rst time-wait control reply
// test: rst-no-wait rst reply control rst time-wait
//   A fixed second instead of the send-queue wait (issue 20: it had full marks).
// test: rst-sleep-1s rst reply control rst
//   No limit on a client: a silent one holds the server (issue 20: full marks).
// test: rst-no-limit rst client-limit control rst
//   Limits on the request and the writes, none on the send-queue wait
//   (issue 20: it had full marks).
// test: rst-queue-no-limit rst client-limit control rst
//   The second red-team of issue 20 (each had full marks):
// test: rst-fresh-deadline rst client-limit control rst
// test: rst-12s rst client-limit control rst
// test: rst-spin-ack rst client-limit control rst
//   The third red-team of issue 20 (full marks): a limit per phase, one that
//   restarts with progress, and a spin while the reply is written.
// test: rst-phase-deadline rst client-limit control rst
// test: rst-read-fresh rst client-limit control rst
// test: rst-ack-fresh rst client-limit control rst
// test: rst-progress-deadline rst client-limit control rst
// test: rst-spin-write rst client-limit control rst
// test: rst-no-wait-small rst reply control rst
//   The fifth red-team of issue 20 (full marks): a fixed grace of 2 s.
// test: rst-grace-2s rst reply control rst
// test: rst-fin-malformed rst rst control reply
//   The RST by another call than the lesson's (the seventh red-team: full
//   marks; the wire is the same).
// test: rst-disconnect rst rst control reply
//   The eighth red-team's rst-outqnsd (full marks: loopback loses nothing).
// test: rst-not-sent-only rst rst control reply
// test: rst-any-address rst start control rst
// test: rst-fd-leak rst fd-leak control rst
// test: rst-crash-odd rst malformed control rst
// test: rst-ack-wait-ignores-stop rst sigterm control rst
//   The fourth red-team of issue 20 (full marks): an _exit in the handler.
// test: rst-fin-at-stop rst sigterm control rst
//   The fifth red-team of issue 20 (full marks): a FIN while reading.
// test: rst-fin-reading-at-stop rst sigterm control rst
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include "broken_bug.hpp"
#include "test_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

/// No limit at all.
constexpr Clock::time_point never = Clock::time_point::max();

/// The end of a wait that starts now, for a client whose time ends at @p end.
Clock::time_point wait_end(Clock::time_point end) {
    return bug == "rst-fresh-deadline" && end != never ? Clock::now() + 10s : end;
}

/// Waits until @p fd has @p events, looking at the stop flag every 50 ms;
/// false at the stop or at @p end.
bool wait_for(int fd, short events, Clock::time_point end) {
    end = wait_end(end);
    for (;;) {
        if (test_server::stop) return false;
        const auto now = Clock::now();
        if (now >= end) return false;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - now).count();
        pollfd p{fd, events, 0};
        if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50))) > 0) return true;
    }
}

/// The request line of @p fd: its N, 0 when malformed or when the client
/// left, stalled or a stop came.
std::uint64_t read_request(int fd, Clock::time_point end) {
    std::string line;
    char buf[64];
    while (line.find('\n') == std::string::npos) {
        if (line.size() > 32) {
            if (bug == "rst-crash-odd") std::abort();
            return 0;
        }
        if (!wait_for(fd, POLLIN, bug == "rst-read-fresh" ? Clock::now() + 10s : end)) return 0;
        const ssize_t got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return 0;
        if (got > 0) line.append(buf, static_cast<std::size_t>(got));
    }
    return test_server::parse_request(std::string_view(line).substr(0, line.find('\n')));
}

/// Writes the @p n reply bytes; false when the client left, stalled or a stop came.
bool send_reply(int fd, std::uint64_t n, Clock::time_point end) {
    char buf[26 * 1024];
    for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<char>('a' + i % 26);
    std::uint64_t sent = 0;
    while (sent < n) {
        const std::size_t at = static_cast<std::size_t>(sent % 26);
        const std::size_t len =
            static_cast<std::size_t>(std::min<std::uint64_t>(n - sent, sizeof buf - 26));
        const ssize_t w = ::send(fd, buf + at, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += static_cast<std::uint64_t>(w);
            if (bug == "rst-progress-deadline") end = Clock::now() + 10s;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        } else if (bug == "rst-spin-write") {
            if (test_server::stop || Clock::now() >= end) return false;  // else: again at once
        } else if (!wait_for(fd, POLLOUT, end)) {
            return false;
        }
    }
    return true;
}

/// Waits until the client acknowledged every byte written to @p fd.
void wait_acknowledged(int fd, Clock::time_point end) {
    end = wait_end(end);
    const bool sees_stop = bug != "rst-ack-wait-ignores-stop";
    for (;;) {
        int queued = 0;
        // rst-not-sent-only: the bytes not yet sent, not those not yet acknowledged.
        const unsigned long ask = bug == "rst-not-sent-only" ? SIOCOUTQNSD : SIOCOUTQ;
        if (::ioctl(fd, ask, &queued) != 0 || queued == 0) return;
        if (bug == "rst-grace-2s") {
            (void)wait_for(-1, 0, std::min(end, Clock::now() + 2s));  // the stop, or 2 s
            return;
        }
        if ((sees_stop && test_server::stop) || Clock::now() >= end) return;
        if (bug != "rst-spin-ack") ::usleep(1000);
    }
}

/// Serves the one request of @p fd, then closes it (with an RST).
void serve(int fd) {
    const auto accepted = Clock::now();
    const Clock::time_point end = bug == "rst-no-limit" ? never
                                  : bug == "rst-12s"    ? accepted + 12500ms
                                                        : accepted + 10s;
    const std::uint64_t n = read_request(fd, end);
    const Clock::time_point reply_end = bug == "rst-phase-deadline" ? Clock::now() + 10s : end;
    const bool sent = n > 0 && send_reply(fd, n, reply_end);
    if (bug == "rst-sleep-1s") ::usleep(1000 * 1000);
    const bool waits =
        bug != "rst-no-wait" && bug != "rst-sleep-1s" && !(bug == "rst-no-wait-small" && n <= 8192);
    if (sent && waits) {
        wait_acknowledged(fd, bug == "rst-queue-no-limit" ? never
                              : bug == "rst-ack-fresh"    ? Clock::now() + 10s
                                                          : reply_end);
    }
    const bool fin = bug == "rst-fin" || (bug == "rst-fin-malformed" && n == 0) ||
                     (bug == "rst-fin-at-stop" && test_server::stop) ||
                     (bug == "rst-fin-reading-at-stop" && test_server::stop && n == 0);
    if (!fin && bug == "rst-disconnect") {
        // The bug: an abort by disconnecting the socket (tcp_disconnect).
        sockaddr unspec{};
        unspec.sa_family = AF_UNSPEC;
        (void)::connect(fd, &unspec, sizeof unspec);
    } else if (!fin) {
        const linger abort{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "rst-fin rst-disconnect rst-no-wait rst-sleep-1s rst-no-limit rst-queue-no-limit "
        "rst-fresh-deadline "
        "rst-12s rst-spin-ack rst-phase-deadline rst-progress-deadline rst-spin-write "
        "rst-read-fresh rst-ack-fresh "
        "rst-no-wait-small rst-fin-malformed rst-any-address rst-fd-leak "
        "rst-crash-odd rst-ack-wait-ignores-stop rst-fin-at-stop rst-fin-reading-at-stop "
        "rst-grace-2s rst-not-sent-only");
    const test_server::Options options = test_server::parse(argc, argv);
    test_server::catch_stop();
    test_server::Options bound = options;
    if (bug == "rst-any-address") bound.host = "0.0.0.0";
    const int listener = test_server::listen_on(bound);
    test_server::announce(options);
    while (!test_server::stop) {
        if (!wait_for(listener, POLLIN, never)) continue;
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) continue;
        if (bug == "rst-fd-leak") (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);
        serve(fd);
    }
    return 0;
}
