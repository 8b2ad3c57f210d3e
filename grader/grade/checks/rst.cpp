// rst (rst lab, docs/contract.md, section 6, "rst"): after its one reply
// the server resets the connection once the reply is acknowledged: the
// client's read() fails with ECONNRESET, it does not see EOF.
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"
#include "rst_common.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using rst::expect_end;

namespace {

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
}

}  // namespace

CSD_CHECK(rst) {
    return {"rst", 10, check_rst,
            "rst: after the reply, the client's read() fails with ECONNRESET, not EOF",
            "set SO_LINGER to {l_onoff = 1, l_linger = 0} on the connected socket, then close() "
            "it: the kernel sends an RST instead of a FIN"};
}

}  // namespace csd::grade
