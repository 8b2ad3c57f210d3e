// reset: clients that reset the connection in the middle of a reply.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_reset(Context& ctx) {
    const Deadline overall(30s);
    constexpr std::uint64_t big = 64ULL << 20;
    // Client 2 pipelines two requests: a server that abandons a reply on
    // ECONNRESET but then starts the next one writes again (EPIPE, SIGPIPE).
    for (int i = 1; i <= 3; ++i) {
        const bool two = i == 2;
        const std::string what =
            fmt::format("client {} of 3 (asks for 64 MiB{}, reads 64 KiB, then resets)", i,
                        two ? " twice, pipelined" : "");
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        const std::string request = request_line(big);
        conn.send_all(two ? request + request : request, overall.within(3s), what);
        expect_reply(conn, 64 * 1024, overall.within(5s), what);
        conn.reset();
        std::this_thread::sleep_for(scaled(100ms));
        ctx.require_running(fmt::format("after client {} reset its connection mid-reply", i));
    }
    std::this_thread::sleep_for(scaled(200ms));
    ctx.require_running("after 3 clients reset their connections in the middle of a 64 MiB reply");
    in_context("after 3 clients reset their connections mid-reply, a fresh client",
               [&] { fetch(ctx.port(), 4000, overall.within(3s), "request 4000"); });
}

}  // namespace csd::grade
