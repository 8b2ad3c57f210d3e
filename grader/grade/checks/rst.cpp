// The checks of the rst lab (docs/contract.md, section 6, "rst"): one
// request per connection, the reply, then an RST from the server once the
// reply is acknowledged, and no TIME_WAIT left on the server's side.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The server must end the connection after its reply (RST or FIN), with no
// extra byte; returns how it ended.
ReadStatus expect_end(Connection& conn, Deadline deadline, const std::string& what) {
    const Closing end = wait_closed(conn, deadline);
    if (end.extra > 0) {
        fail(fmt::format("{}: {} bytes more than the reply arrived ({})", what, end.extra,
                         quote(end.first)));
    }
    if (end.how == ReadStatus::timeout) {
        fail(fmt::format("{}: after the whole reply, the server did not end the connection "
                         "(neither RST nor FIN within {:.0f} s)",
                         what, scaled_seconds(3s)),
             "the server ends each connection itself, right after its one reply: wait until "
             "the reply is acknowledged, then close with SO_LINGER {1, 0}");
    }
    return end.how;
}

}  // namespace

void check_one_reply(Context& ctx) {
    struct Case {
        std::uint64_t n;
        Window window;
        const char* how;
        std::uint64_t pause_at = 0;  ///< > 0: stop reading 1.5 s there
    };
    // The third reply is read through the narrow window (the server's send
    // buffer then starts near 64 KiB) with a pause 32 KiB before its end:
    // by then the server has written its last byte, the client's 4 KiB
    // buffer is full and the rest, about 28 KiB, waits in the server's send
    // queue for the whole pause. A server that resets as soon as it has
    // written throws it away during the pause, however late it is scheduled
    // after its last write, and so does one that sleeps a fixed second
    // instead of watching its send queue; one that waits for the
    // acknowledgement (SIOCOUTQ 0) waits out the pause. 1.5 s (scaled) stays
    // well inside the server's 10 s per client.
    constexpr std::uint64_t narrow_reply = 1 << 20;
    const Case cases[] = {
        {1, Window::normal, ""},
        {4000, Window::normal, ""},
        {narrow_reply, Window::narrow,
         ", read through a 4 KiB receive window, pausing 1.5 s 32 KiB before the end",
         narrow_reply - 32 * 1024},
        {26 * 1000 + 7, Window::narrow, ", read through a 4 KiB receive window"}};
    const Deadline overall(30s);
    int i = 0;
    for (const Case& c : cases) {
        ++i;
        const std::string what =
            fmt::format("connection {} (one request for {} bytes{})", i, c.n, c.how);
        Connection conn = Connection::open(ctx.port(), overall.within(3s), c.window);
        conn.send_all(request_line(c.n), overall.within(3s), what);
        try {
            expect_reply(ctx.reply(), conn, c.n, overall.within(10s), what,
                         Reading{.pause_at = c.pause_at, .pause = 1500ms});
        } catch (const ReplyFailed& e) {
            if (e.problem() != ReplyProblem::reset && e.problem() != ReplyProblem::closed) throw;
            throw CheckFailed(
                e.what(),
                "close() with SO_LINGER {1, 0} throws away every byte still in the send queue: "
                "a reply that is written is not yet delivered. Before the abortive close, wait "
                "until the client's TCP has acknowledged the whole reply (ioctl SIOCOUTQ returns "
                "0)");
        }
        (void)expect_end(conn, overall.within(3s), what);
    }
    const std::string what = "a malformed request (\"12x\\n\")";
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all("12x\n", overall.within(3s), what);
    expect_closed(conn, overall.within(3s), "after " + what);
}

void check_rst(Context& ctx) {
    const Deadline overall(20s);
    for (int i = 1; i <= 5; ++i) {
        const std::uint64_t n = 1000U * static_cast<std::uint64_t>(i) + 1;
        const std::string what = fmt::format("connection {} of 5 (one request for {} bytes)", i, n);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(n), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, n, overall.within(5s), what);
        const ReadStatus end = expect_end(conn, overall.within(3s), what);
        if (end == ReadStatus::eof) {
            fail(
                fmt::format("{}: after the reply, read() returned 0 (EOF): the server closed "
                            "normally, with a FIN",
                            what));
        }
        if (end != ReadStatus::reset) {
            fail(
                fmt::format("{}: after the reply, read() failed with another error than "
                            "ECONNRESET",
                            what));
        }
    }
}

namespace {

// Remote ports of the sockets in TIME_WAIT (state 06) whose local port is
// @p port, from /proc/net/tcp; skips the check when it cannot be read.
std::multiset<std::uint16_t> time_wait_peers(std::uint16_t port) {
    std::ifstream in("/proc/net/tcp");
    if (!in) skip("/proc/net/tcp cannot be read here");
    std::multiset<std::uint16_t> peers;
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        if (!(fields >> slot >> local >> remote >> state)) continue;
        const auto port_of = [](const std::string& address) {
            const auto colon = address.rfind(':');
            return static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1), nullptr, 16));
        };
        if (state == "06" && port_of(local) == port) peers.insert(port_of(remote));
    }
    return peers;
}

}  // namespace

void check_time_wait(Context& ctx) {
    const Deadline overall(30s);
    constexpr int connections = 20;
    std::set<std::uint16_t> ours;
    for (int i = 1; i <= connections; ++i) {
        const std::string what =
            fmt::format("connection {} of {} (one request for 100 bytes)", i, connections);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        ours.insert(conn.local_port());
        conn.send_all(request_line(100), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, 100, overall.within(3s), what);
        (void)expect_end(conn, overall.within(3s), what);
        conn.close();
    }
    std::this_thread::sleep_for(scaled(200ms));
    const auto peers = time_wait_peers(ctx.port());
    const auto left = static_cast<int>(std::count_if(
        peers.begin(), peers.end(), [&](std::uint16_t p) { return ours.count(p) > 0; }));
    ctx.log("{} of our {} connections in TIME_WAIT on port {}", left, connections, ctx.port());
    if (left > 0) {
        fail(
            fmt::format("{} of {} connections left a socket in TIME_WAIT on the server's side "
                        "(local port {}, state 06 in /proc/net/tcp): the server closed them "
                        "first, normally",
                        left, connections, ctx.port()));
    }
}

CSD_CHECK(reply) {
    return {"reply", 10, check_one_reply,
            "rst: one request per connection gets its exact reply (1 B to 16 MiB, also through a "
            "4 KiB receive window), then the server ends the connection",
            "answer the one request of each connection, then end it yourself. An abortive close "
            "throws away what the send queue still holds: wait until the reply is acknowledged "
            "(ioctl SIOCOUTQ returns 0) before it"};
}

CSD_CHECK(rst) {
    return {"rst", 10, check_rst,
            "rst: after the reply, the client's read() fails with ECONNRESET, not EOF",
            "set SO_LINGER to {l_onoff = 1, l_linger = 0} on the connected socket, then close() "
            "it: the kernel sends an RST instead of a FIN"};
}

CSD_CHECK(time_wait) {
    return {"time-wait", 10, check_time_wait,
            "rst: 20 connections leave no socket in TIME_WAIT on the server's port "
            "(/proc/net/tcp)",
            "the side that closes first with a FIN keeps the connection in TIME_WAIT for 60 s; "
            "an abortive close (SO_LINGER {1, 0}) leaves none"};
}

}  // namespace csd::grade
