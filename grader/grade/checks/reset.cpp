// reset: clients that reset the connection in the middle of a reply, one of
// them after a half-close.
#include <fmt/format.h>
#include <sys/wait.h>

#include <csignal>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Fails with the server's death report when it ended; the hint names
// SIGPIPE when that is what killed it (and the half-close when it came
// after one).
void require_alive(Context& ctx, const std::string& when, bool after_half_close = false) {
    try {
        ctx.require_running(when);
    } catch (const CheckFailed& e) {
        const auto status = ctx.server().status();
        if (!status || !WIFSIGNALED(*status) || WTERMSIG(*status) != SIGPIPE) throw;
        throw CheckFailed(
            e.what(),
            fmt::format("a write to a connection the client has reset raises SIGPIPE, whose "
                        "default action kills the process{}. Ignore SIGPIPE once at start "
                        "(csd::ignore_sigpipe()) or send with MSG_NOSIGNAL (csd::write_some() "
                        "does), then treat EPIPE/ECONNRESET as 'drop this client'",
                        after_half_close ? "; after a half-close then a reset, the very first "
                                           "failed write raises it (EPIPE, not ECONNRESET)"
                                         : ""));
    }
}

// reset: clients resetting mid-reply do not kill the server.
void check_reset(Context& ctx) {
    const Deadline overall(30s);
    constexpr std::uint64_t big = 64ULL << 20;
    // Client 2 pipelines two requests: a server that abandons a reply on
    // ECONNRESET but then starts the next one writes again (EPIPE, SIGPIPE).
    // Client 4 half-closes first: when the reset comes, the server's socket
    // has seen the FIN (CLOSE_WAIT), so Linux reports EPIPE at once, with
    // SIGPIPE unless it is ignored or the write used MSG_NOSIGNAL.
    for (int i = 1; i <= 4; ++i) {
        const bool two = i == 2;
        const bool half_close = i == 4;
        const std::string what =
            fmt::format("client {} of 4 (asks for 64 MiB{}, reads 64 KiB, then resets)", i,
                        two          ? " twice, pipelined"
                        : half_close ? ", half-closes (shutdown SHUT_WR)"
                                     : "");
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        const std::string request = request_line(big);
        conn.send_all(two ? request + request : request, overall.within(3s), what);
        if (half_close) conn.shutdown_write();
        expect_reply(ctx.reply(), conn, 64 * 1024, overall.within(5s), what);
        conn.reset();
        std::this_thread::sleep_for(scaled(100ms));
        require_alive(ctx, fmt::format("after {} reset its connection mid-reply", what),
                      half_close);
    }
    std::this_thread::sleep_for(scaled(200ms));
    require_alive(ctx, "after 4 clients reset their connections in the middle of a 64 MiB reply");
    in_context("after 4 clients reset their connections mid-reply, a fresh client",
               [&] { fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s), "request 4000"); });
}

}  // namespace

CSD_CHECK(reset) {
    return {"reset", 10, check_reset,
            "clients resetting mid-reply, one after a half-close (SIGPIPE), do not kill the server",
            "ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL; treat "
            "EPIPE/ECONNRESET as 'drop this client', not as a fatal error"};
}

}  // namespace csd::grade
