// pipeline: several requests on one connection: one by one, pipelined, with \r\n.
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// (a) requests one after another, each reply read before the next request.
void one_by_one(Context& ctx, Deadline overall) {
    constexpr std::uint64_t sizes[] = {1, 100, 4000, 26, 70000};
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        const std::string what = fmt::format(
            "one connection, request {} of {} (\"{}\\n\", sent after the previous reply)", i + 1,
            std::size(sizes), sizes[i]);
        conn.send_all(request_line(sizes[i]), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, sizes[i], overall.within(5s), what);
    }
    conn.shutdown_write();
    expect_closed(conn, overall.within(2s),
                  "one connection, 5 requests one by one, after a half-close");
}

// (b) ten requests in one send, then a half-close; replies in order, then EOF.
void pipelined(Context& ctx, Deadline overall) {
    constexpr std::uint64_t sizes[] = {5, 1, 4000, 26, 27, 100000, 3, 65536, 2, 1000};
    std::string all;
    for (const auto n : sizes) all += request_line(n);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all(all, overall.within(3s), "10 pipelined requests");
    conn.shutdown_write();
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        const std::string what =
            fmt::format("10 requests sent in one send() ({}) then half-closed, reply {} ({} bytes)",
                        quote(all, 24), i + 1, sizes[i]);
        expect_reply(ctx.reply(), conn, sizes[i], overall.within(5s), what);
    }
    expect_closed(conn, overall.within(2s), "10 pipelined requests, after the last reply");
}

// (c) `\r\n` line endings.
void crlf(Context& ctx, Deadline overall) {
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    for (const std::uint64_t n : {std::uint64_t{4000}, std::uint64_t{26}}) {
        const std::string what = fmt::format("request \"{}\\r\\n\"", n);
        conn.send_all(std::to_string(n) + "\r\n", overall.within(3s), what);
        expect_reply(ctx.reply(), conn, n, overall.within(5s), what);
    }
    conn.shutdown_write();
    expect_closed(conn, overall.within(2s), "requests ending in \\r\\n, after a half-close");
}

// pipeline: several requests on one connection, sequential and pipelined; `\r\n`.
void check_pipeline(Context& ctx) {
    const Deadline overall(30s);
    one_by_one(ctx, overall);
    pipelined(ctx, overall);
    crlf(ctx, overall);
}

}  // namespace

CSD_CHECK(pipeline) {
    return {"pipeline", 10, check_pipeline,
            "several requests on one connection, one by one and pipelined; \\r\\n accepted",
            "one read may hold several requests, or part of one: keep a buffer per connection, "
            "answer every complete line in it in order, keep the rest for the next read; a \\r "
            "right before the \\n is allowed"};
}

}  // namespace csd::grade
