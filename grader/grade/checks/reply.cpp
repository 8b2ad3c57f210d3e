// reply (rst lab, docs/contract.md, section 6, "rst"): one request per
// connection gets its exact reply, also read slowly through a narrow
// receive window, then the server ends the connection itself (an RST sent
// before the reply is acknowledged throws its end away).
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"
#include "rst_common.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using rst::expect_end;

namespace {

// reply (rst): one request per connection, the exact reply, then the end of the connection.
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
        {26 * 1000 + 7, Window::narrow, ", read through a 4 KiB receive window"},
        // A small reply too: about 1 KiB of it fits the client's window, the
        // rest waits in the server's send queue while the client pauses
        // after its first bytes. Skipping the wait for small replies throws
        // that rest away.
        {3000, Window::tiny, ", read through a 1 KiB receive window, pausing 1.5 s after 1 byte",
         1}};
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

}  // namespace

CSD_CHECK(reply) {
    return {"reply", 10, check_one_reply,
            "rst: one request per connection gets its exact reply (1 B to 16 MiB, also through a "
            "4 KiB receive window), then the server ends the connection",
            "answer the one request of each connection, then end it yourself. An abortive close "
            "throws away what the send queue still holds: wait until the reply is acknowledged "
            "(ioctl SIOCOUTQ returns 0) before it"};
}

}  // namespace csd::grade
