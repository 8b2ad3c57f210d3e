// framing (cork lab, docs/contract.md, section 6, "cork"): each reply is
// the header line "N\n" then the N bytes, one request at a time, pipelined
// and after a half-close; a malformed request closes the connection.
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// framing (cork): each reply is the header line "N\n" then the N bytes; pipelining, half-close.
void check_framing(Context& ctx) {
    const Deadline overall(30s);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    for (const std::uint64_t n : {1ULL, 26ULL, 4000ULL, 100000ULL, 16ULL << 20}) {
        const std::string what = fmt::format("request {} (one at a time)", n);
        conn.send_all(request_line(n), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, n, overall.within(10s), what);
    }
    conn.send_all("3\n0007\r\n10\n1\n", overall.within(3s), "four pipelined requests");
    conn.shutdown_write();
    for (const std::uint64_t n : {3ULL, 7ULL, 10ULL, 1ULL}) {
        expect_reply(ctx.reply(), conn, n, overall.within(3s),
                     fmt::format("pipelined request {} (3, 0007\\r, 10, 1)", n));
    }
    expect_closed(conn, overall.within(3s), "after the half-close and the four replies");
    Connection bad = Connection::open(ctx.port(), overall.within(3s));
    bad.send_all("12x\n", overall.within(3s), "a malformed request");
    expect_closed(bad, overall.within(3s), "after a malformed request (\"12x\\n\")");
}

}  // namespace

CSD_CHECK(framing) {
    return {"framing", 10, check_framing,
            "cork: each reply is the header line \"N\\n\" then N exact bytes (1 B to 16 MiB, "
            "pipelined, after a half-close)",
            "write the header line (N in decimal without leading zeros, then '\\n'), then the "
            "N bytes of the reply; answer every complete request in order"};
}

}  // namespace csd::grade
