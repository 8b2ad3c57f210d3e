// ring-io: the uring lab's server accepts, receives and sends through its
// ring, never by calling accept, read or send itself. Seen from outside
// with strace while clients are served: the socket calls the server made.
#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "strace_text.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that accept, receive, send or wait on sockets by themselves
// (x86-64 and arm64 names; strace ignores those this machine lacks).
// preadv2 and pwritev2 with offset -1 are readv and writev under other
// names; preadv and pwritev fail on a socket, but are counted all the same.
constexpr const char* traced =
    "accept,accept4,read,readv,preadv,preadv2,recvfrom,recvmsg,recvmmsg,write,writev,pwritev,"
    "pwritev2,sendto,sendmsg,sendmmsg,sendfile,splice,select,pselect6,poll,ppoll,epoll_wait,"
    "epoll_pwait,epoll_pwait2";

}  // namespace

std::map<std::string, int> ring_io_socket_calls(const std::string& trace) {
    std::map<std::string, int> calls;
    for (const StraceCall& call : parse_strace(trace)) {
        // The end of a call whose start strace did not show, on a descriptor
        // it did not show either, is not counted.
        if (!call.entered) continue;
        // Calls on stdin, stdout and stderr (a log line) are not socket I/O.
        const int fd = call.fd();
        if (fd >= 0 && fd <= 2) continue;
        ++calls[call.name];
    }
    return calls;
}

namespace {

// ring-io (uring): with strace attached while 31 clients are served, the
// server makes no accept, read, recv, write, send or wait call on a socket
// itself: all of them are ring requests.
void check_ring_io(Context& ctx) {
    Strace trace(ctx.pid(), traced);
    if (!trace.attached()) {
        ctx.require_running("while strace attached to it");
        skip(trace.why_not());
    }
    try {
        // 20 clients one after another, then 10 at once, and a big reply
        // that comes out in many short sends.
        const Deadline overall(30s);
        for (int i = 0; i < 20; ++i) {
            Connection conn = Connection::open(ctx.port(), overall.within(3s));
            conn.send_all(request_line(4000), overall.within(3s), "request 4000");
            expect_reply(ctx.reply(), conn, 4000, overall.within(3s), "request 4000");
        }
        std::vector<Connection> together;
        for (int i = 0; i < 10; ++i) {
            together.push_back(Connection::open(ctx.port(), overall.within(3s)));
            together.back().send_all(request_line(65536), overall.within(3s), "request 65536");
        }
        for (auto& conn : together)
            expect_reply(ctx.reply(), conn, 65536, overall.within(3s), "65536 bytes");
        Connection big = Connection::open(ctx.port(), overall.within(3s));
        big.send_all(request_line(4u << 20), overall.within(3s), "request 4 MiB");
        expect_reply(ctx.reply(), big, 4u << 20, overall.within(10s), "4 MiB reply");
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const auto calls = ring_io_socket_calls(trace.finish());
    int total = 0;
    std::string seen;
    for (const auto& [name, n] : calls) {
        total += n;
        seen += fmt::format("{}{} x{}", seen.empty() ? "" : ", ", name, n);
    }
    ctx.log("ring-io: {} socket calls outside the ring", total);
    if (total > 0) {
        fail(
            fmt::format("while it served 31 clients, strace saw the server make {} call{} of its "
                        "own on sockets (not through the ring): {}",
                        total, total == 1 ? "" : "s", seen));
    }
}

}  // namespace

CSD_CHECK(ring_io) {
    return {"ring-io",
            10,
            check_ring_io,
            "uring: with strace attached while 31 clients are served, the server makes no accept, "
            "read, recv, write, send (preadv2, pwritev2 ...) or wait call on a socket itself",
            "submit every accept, recv and send as a ring request (io_uring_prep_multishot_accept, "
            "io_uring_prep_recv, io_uring_prep_send) and use what its completion says; do not make "
            "the call yourself, not even after a poll request said the socket was ready",
            {"cpu"}};
}

}  // namespace csd::grade
