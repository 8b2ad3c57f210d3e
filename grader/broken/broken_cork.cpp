// Broken servers of the cork lab (docs/contract.md, section 6, "cork"):
// each reply a header line "N\n" then the N bytes, header and body in two
// write() calls, TCP_NODELAY on. Each is right except for the one bug that
// its name says (broken-BUG, see broken_bug.hpp):
//
//   cork-none     never corks: with TCP_NODELAY, each reply leaves as two
//                 segments, the header and the body (fails segments)
//   cork-forever  corks each connection once and never uncorks: a reply
//                 smaller than a segment waits for the kernel's 200 ms cork
//                 timer (fails uncork)
//   cork-big-stays  corks each reply, but uncorks only after bodies up to
//                   64 KiB: the end of a larger reply waits 200 ms (fails uncork)
//   cork-huge-stays  the same up to 1 MiB: the timed 100 KiB replies are
//                   fine, a reply of 3 MiB is left corked (fails uncork)
//   cork-bad-header  writes the header with leading zeros as the request
//                 had them ("0007"): fails framing
//   cork-one-write  no cork, header and body in one write(): one segment a
//                 small reply, but not the lesson (fails segments, which
//                 watches the calls with strace)
//   cork-fake     sets TCP_CORK and clears it at once, then sends the header
//                 with MSG_MORE: a cork in strace that holds nothing (fails
//                 segments: the header was not written while corked)
//   cork-msg-more  no cork: the header sent with MSG_MORE, then the body: one
//                 segment a reply, promptly, but not the lesson (fails
//                 segments, which sees no TCP_CORK in strace; issue 20: it
//                 had full marks)
//   cork-one-write-unwatched, cork-msg-more-unwatched  the same two, but
//                 corked right while a tracer seems attached (told by
//                 timing, broken::tracer_by_timing()): segments' perf
//                 record, with no strace, sees them (a red-team's cheats
//                 had full marks)
//   cork-no-nodelay  corks each reply right, but never turns TCP_NODELAY on
//                 (fails uncork, which reads the option off the server's own
//                 socket; issue 20: it had full marks)
//   cork-fd-leak  corks right, but opens /dev/null at every 500th
//                 connection and never closes it (fails fd-leak; issue 20:
//                 cork had no fd-leak check, a red-team's leak had full marks)
//   cork-thread-per-client  corks right, but serves each client on a thread
//                 of its own: not the lab's one process with one thread
//                 (fails architecture; issue 20: the same)
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: cork-none cork segments control framing
// test: cork-none cork uncork control framing
// test: cork-forever cork uncork control segments framing
//   Uncorked only after bodies up to 64 KiB: each larger reply waits for
//   the cork timer (issue 20: it had full marks).
// test: cork-big-stays cork uncork control segments
// test: cork-huge-stays cork uncork control segments
// test: cork-bad-header cork framing control segments uncork
// test: cork-one-write cork segments control framing uncork
// test: cork-msg-more cork segments control framing uncork
// test: cork-fake cork segments control framing uncork
//   Hidden from strace (issue 20): caught where perf can record.
// test: cork-one-write-unwatched cork segments control framing uncork
// test: cork-msg-more-unwatched cork segments control framing uncork
// test: cork-no-nodelay cork uncork control segments framing
// test: cork-fd-leak cork fd-leak control framing segments
// test: cork-thread-per-client cork architecture control framing segments
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <string_view>
#include <thread>

#include "broken_bug.hpp"
#include "test_server.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;

// Serves the requests of the blocking socket @p fd until EOF or a bad line.
void serve(int fd) {
    // The -unwatched bugs: corked right while a tracer seems attached (told
    // by timing, when the client comes), the bug of their stem otherwise.
    std::string_view flaw = bug;
    if (flaw.ends_with("-unwatched")) {
        flaw = broken::tracer_by_timing() ? "cork-right"
                                          : flaw.substr(0, flaw.size() - sizeof "-unwatched" + 1);
    }
    const int on = 1;
    if (flaw != "cork-no-nodelay") ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (flaw == "cork-forever") ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    std::string input;
    char buf[4096];
    for (;;) {
        for (auto nl = input.find('\n'); nl != std::string::npos; nl = input.find('\n')) {
            std::string line = input.substr(0, nl);
            const std::uint64_t n = test_server::parse_request(line);
            if (n == 0) return;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const std::string header =
                (flaw == "cork-bad-header" ? line : std::to_string(n)) + "\n";
            // cork-bad-header: corked right, the header wrong; cork-big-stays:
            // corked right, but a body over 64 KiB is left corked.
            const bool cork_each = flaw == "cork-bad-header" || flaw == "cork-big-stays" ||
                                   flaw == "cork-huge-stays" || flaw == "cork-no-nodelay" ||
                                   flaw == "cork-right" || flaw == "cork-fd-leak" ||
                                   flaw == "cork-thread-per-client";
            const int zero = 0;
            if (cork_each) ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
            if (flaw == "cork-one-write") {
                std::string whole = header;
                for (std::uint64_t i = 0; i < n; ++i) whole += static_cast<char>('a' + i % 26);
                if (::write(fd, whole.data(), whole.size()) < 0) return;
                input.erase(0, nl + 1);
                continue;
            }
            if (flaw == "cork-fake") {
                ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
                ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
            }
            if (flaw == "cork-msg-more" || flaw == "cork-fake") {
                if (::send(fd, header.data(), header.size(), MSG_MORE) < 0) return;
            } else if (::write(fd, header.data(), header.size()) < 0) {
                return;
            }
            if (!test_server::send_reply(fd, n)) return;
            // cork-huge-stays: the same past 1 MiB (the 100 KiB replies are fine).
            const bool uncork = cork_each && (flaw != "cork-big-stays" || n <= 64 * 1024) &&
                                (flaw != "cork-huge-stays" || n <= 1024 * 1024);
            if (uncork) ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
            input.erase(0, nl + 1);
        }
        if (input.size() > 32) return;
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR && !test_server::stop) continue;
        if (got <= 0) return;
        input.append(buf, static_cast<std::size_t>(got));
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "cork-none cork-forever cork-bad-header cork-one-write cork-big-stays cork-huge-stays "
        "cork-msg-more cork-fake cork-no-nodelay cork-one-write-unwatched "
        "cork-msg-more-unwatched cork-fd-leak cork-thread-per-client");
    const test_server::Options options = test_server::parse(argc, argv);
    test_server::catch_stop();
    const int listener = test_server::listen_on(options);
    test_server::announce(options);
    unsigned long accepted = 0;
    while (!test_server::stop) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        if (bug == "cork-fd-leak" && ++accepted % 500 == 0) {
            (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the bug: never closed
        }
        if (bug == "cork-thread-per-client") {
            std::thread([fd] {
                serve(fd);
                ::close(fd);
            }).detach();
            continue;
        }
        serve(fd);
        ::close(fd);
    }
    return 0;
}
