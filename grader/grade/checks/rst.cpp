// rst (rst lab, docs/contract.md, section 6, "rst"): after its one reply
// the server resets the connection once the reply is acknowledged: the
// client's read() fails with ECONNRESET, it does not see EOF; and, under
// strace, the RST comes from SO_LINGER {1, 0} and close(), not from a
// connect(AF_UNSPEC).
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"
#include "rst_common.hpp"
#include "strace_text.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using rst::expect_end;

namespace {

// Under strace, one more connection served: the RST must come from the
// abortive close the lab teaches (SO_LINGER {1, 0}, then close), not from
// connect() with AF_UNSPEC, which on Linux aborts a TCP connection too
// (tcp_disconnect) and leaves SO_LINGER unused. (SO_LINGER may have been
// set on the listening socket, whose accepted sockets inherit it: strace
// attached after the start cannot see that, and does not ask for it.)
// And the wait before it asks how much is not yet acknowledged (SIOCOUTQ,
// or TCP_INFO's unacknowledged segments), not how much is not yet sent
// (SIOCOUTQNSD): bytes sent but not acknowledged are lost to the RST when
// one segment must be sent again, which loopback never shows.
void require_linger_close(Context& ctx) {
    Strace trace(ctx.pid(), "setsockopt,getsockopt,ioctl,connect,close");
    if (!trace.attached()) {
        ctx.log("how the RST is made not checked: {}", trace.why_not());
        return;
    }
    const std::string what = "a connection under strace";
    try {
        Connection conn = Connection::open(ctx.port(), Deadline(3s));
        conn.send_all(request_line(100), Deadline(3s), what);
        expect_reply(ctx.reply(), conn, 100, Deadline(5s), what);
        (void)expect_end(conn, Deadline(3s), what);
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    bool unacked = false;  // SIOCOUTQ (strace: TIOCOUTQ) or TCP_INFO asked
    std::string not_sent;  // an ioctl SIOCOUTQNSD, as strace showed it
    for (const StraceCall& c : parse_strace(text)) {
        const auto args = c.arguments();
        if (c.name == "ioctl" && args.size() >= 2) {
            if (args[1] == "TIOCOUTQ" || args[1] == "SIOCOUTQ" || args[1] == "0x5411") {
                unacked = true;
            }
            if ((args[1] == "SIOCOUTQNSD" || args[1] == "0x894b") && not_sent.empty()) {
                not_sent = fmt::format("{}({}) = {}", c.name, c.args, c.result);
            }
        }
        if (c.name == "getsockopt" && args.size() >= 3 && args[2] == "TCP_INFO") unacked = true;
    }
    if (!not_sent.empty() && !unacked) {
        fail(fmt::format("{}: before the reset the server asked how much of the reply was not "
                         "yet sent (`{}`), never how much was not yet acknowledged (SIOCOUTQ, "
                         "TCP_INFO)",
                         what, not_sent),
             "wait until the send queue holds nothing unacknowledged: ioctl SIOCOUTQ counts the "
             "bytes not yet acknowledged, SIOCOUTQNSD only those not yet sent; a segment lost "
             "after it was sent cannot be sent again once the RST has gone");
    }
    for (const StraceCall& c : parse_strace(text)) {
        if (c.name != "connect") continue;
        const auto args = c.arguments();
        if (args.size() < 2 || args[1].find("AF_UNSPEC") == std::string_view::npos) continue;
        fail(fmt::format("{}: the server reset it with connect({}, {{sa_family=AF_UNSPEC}}) (a "
                         "Linux disconnect), not with the abortive close: strace saw `{}({}) = "
                         "{}`",
                         what, c.fd(), c.name, c.args, c.result),
             "the lesson is the abortive close: set SO_LINGER to {l_onoff = 1, l_linger = 0} on "
             "the connected socket, then close() it (docs/contract.md, rst)");
    }
    ctx.log("{}: no connect(AF_UNSPEC); the RST comes from the close", what);
}

// rst (rst): after its reply the server resets the connection (ECONNRESET, not EOF).
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
    // Every way out ends with the RST, a malformed request's too.
    const std::string what = "a malformed request (\"12x\\n\")";
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all("12x\n", overall.within(3s), what);
    const ReadStatus end = expect_end(conn, overall.within(3s), what);
    if (end != ReadStatus::reset) {
        fail(fmt::format("{}: the server ended the connection with {}, not an RST", what,
                         end == ReadStatus::eof ? "a FIN (read() returned 0)" : "an error"),
             "every connection ends with the abortive close, whatever happened to it: a "
             "malformed request gets no reply and the same SO_LINGER {1, 0} close");
    }
    require_linger_close(ctx);
}

}  // namespace

CSD_CHECK(rst) {
    return {"rst", 10, check_rst,
            "rst: after the reply, the client's read() fails with ECONNRESET, not EOF; under "
            "strace, the RST comes from the close (SO_LINGER {1, 0}), not connect(AF_UNSPEC)",
            "set SO_LINGER to {l_onoff = 1, l_linger = 0} on the connected socket, then close() "
            "it: the kernel sends an RST instead of a FIN"};
}

}  // namespace csd::grade
