// time-wait (rst lab, docs/contract.md, section 6, "rst"): the server
// ends its connections with an abortive close, so no TIME_WAIT socket is
// left on its side (its port, in /proc/net/tcp).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "rst_common.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using rst::expect_end;

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

// time-wait (rst): no TIME_WAIT socket is left on the server's port.
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

}  // namespace

CSD_CHECK(time_wait) {
    return {"time-wait", 10, check_time_wait,
            "rst: 20 connections leave no socket in TIME_WAIT on the server's port "
            "(/proc/net/tcp)",
            "the side that closes first with a FIN keeps the connection in TIME_WAIT for 60 s; "
            "an abortive close (SO_LINGER {1, 0}) leaves none"};
}

}  // namespace csd::grade
