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
        std::uint64_t pause_at = 0;                ///< > 0: stop reading 1.5 s there
        bool timed_end = false;                    ///< the end must come soon after the last byte
        std::chrono::milliseconds pause = 1500ms;  ///< how long it stops at pause_at
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
         1},
        // A short pause 32 KiB before the end, so that the send queue still
        // holds bytes when the server has written its last one; then the
        // rest is read at once, each byte acknowledged as it arrives. The
        // server that watches its send queue ends the connection within a
        // delayed ACK of the last byte. One that waits a fixed time instead
        // ends it that time later (and throws away what a slower reader had
        // not acknowledged by then).
        {narrow_reply, Window::narrow,
         ", read through a 4 KiB receive window, pausing 100 ms 32 KiB before the end: its end "
         "must follow the last byte within 250 ms",
         narrow_reply - 32 * 1024, true, 100ms}};
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
                         Reading{.pause_at = c.pause_at, .pause = c.pause});
        } catch (const ReplyFailed& e) {
            if (e.problem() != ReplyProblem::reset && e.problem() != ReplyProblem::closed) throw;
            throw CheckFailed(
                e.what(),
                "close() with SO_LINGER {1, 0} throws away every byte still in the send queue: "
                "a reply that is written is not yet delivered. Before the abortive close, wait "
                "until the client's TCP has acknowledged the whole reply (ioctl SIOCOUTQ returns "
                "0)");
        }
        const auto read_all = Deadline::Clock::now();
        (void)expect_end(conn, overall.within(3s), what);
        const double late = seconds_since(read_all);
        if (c.timed_end) ctx.log("{}: ended {:.1f} ms after the last byte", what, late * 1000);
        if (c.timed_end && late > scaled_seconds(250ms)) {
            fail(fmt::format("{}: the connection ended {:.0f} ms after the last byte of the "
                             "reply arrived, though the grader's TCP acknowledged it as it came: "
                             "the server waited a time of its own, not for its send queue to "
                             "empty",
                             what, late * 1000),
                 "wait until the send queue is empty (ioctl SIOCOUTQ returns 0), looking again "
                 "every millisecond or so, and reset the connection then: a fixed wait is too "
                 "long for a fast client and too short for a slow one");
        }
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
            "4 KiB receive window), then the server ends the connection (within 250 ms of the "
            "last byte for a client that reads at once)",
            "answer the one request of each connection, then end it yourself. An abortive close "
            "throws away what the send queue still holds: wait until the reply is acknowledged "
            "(ioctl SIOCOUTQ returns 0) before it"};
}

}  // namespace csd::grade
