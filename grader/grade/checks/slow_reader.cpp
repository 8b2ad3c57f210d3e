// slow-reader: a client that does not read its reply must not block the others.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Client A asks for @p n bytes and never reads; 300 ms later client B asks
// for 4000 bytes and must be served within 1 s. @p a names A in messages.
void stalled_client(Context& ctx, std::uint64_t n, Window window, const std::string& a,
                    const std::string& hint) {
    Connection stalled = Connection::open(ctx.port(), Deadline(3s), window);
    stalled.send_all(request_line(n), Deadline(3s), a);
    std::this_thread::sleep_for(scaled(300ms));
    in_context(
        fmt::format("client B asked for 4000 bytes 300 ms after {} stopped reading; B must be "
                    "served within 1 s",
                    a),
        [&] {
            const Deadline one_second(1s);
            Connection b = Connection::open(ctx.port(), one_second);
            b.send_all(request_line(4000), one_second, "request 4000");
            expect_reply(ctx.reply(), b, 4000, one_second, "request 4000");
        },
        hint);
    stalled.reset();
}

// slow-reader: a client that does not read does not block others.
void check_slow_reader(Context& ctx) {
    // A narrow window: the server's send buffer stays near 64 KiB, so even a
    // reply of 256 KiB does not fit in the socket buffers, and a server
    // that writes "small" replies in a blocking loop is stuck on it.
    stalled_client(ctx, 256 * 1024, Window::narrow,
                   "client A (4 KiB receive buffer, 536-byte MSS; asks for 256 KiB)",
                   "a reply of any size can block a blocking write: a client that reads slowly "
                   "(or a small receive buffer) leaves room for only a few KiB. Never write in "
                   "a loop until a reply is out: send what fits, keep your position, and wait "
                   "for writability in the lab's call with the other clients");
    stalled_client(ctx, 64ULL << 20, Window::normal, "client A (asks for 64 MiB)", {});
}

}  // namespace

CSD_CHECK(slow_reader) {
    return {"slow-reader",
            10,
            check_slow_reader,
            "clients that do not read a 256 KiB (small window) or 64 MiB reply do not block "
            "another client",
            "never block on one client's write: use non-blocking sockets, send what fits, keep "
            "your position, and wait for writability only for clients with pending output",
            {"cpu"}};
}

}  // namespace csd::grade
