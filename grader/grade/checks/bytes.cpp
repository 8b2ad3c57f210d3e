// bytes: one connection per size; every reply byte checked, up to the
// largest valid N (1 GiB); a slow reader that makes the server's writes come
// up short; EOF after a half-close.
#include <fmt/format.h>

#include <vector>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t largest = std::uint64_t{1} << 30;

const char* const wrong_byte_hint =
    "write() may write less than asked: loop, and continue from where you stopped, not from "
    "the start of your buffer (nor past the end of what was written). Byte i of every reply "
    "is 'a' + i % 26, counted from the start of that reply";
const char* const unfinished_hint =
    "send every byte of every reply: a short write, EAGAIN or a full socket buffer is not the "
    "end of a reply; keep your position and go on when the socket is writable again. N may be "
    "as large as 1073741824 (1 GiB): never build a reply in memory";
const char* const no_close_hint =
    "after the client half-closes (read() returns 0), finish the replies you owe, then close "
    "the connection: the client waits for that EOF";

// Runs @p body; a failure from it gets the hint that fits what went wrong.
template <typename Body>
void hinted(Body&& body) {
    try {
        body();
    } catch (const ReplyFailed& e) {
        throw CheckFailed(
            e.what(), e.problem() == ReplyProblem::wrong_byte ? wrong_byte_hint : unfinished_hint);
    }
}

// The server must close @p conn with no byte more, before @p deadline.
void expect_eof(Connection& conn, Deadline deadline, const std::string& after) {
    try {
        expect_closed(conn, deadline, after);
    } catch (const CheckFailed& e) {
        const std::string saw = e.what();
        const bool extra = saw.find("expected no more bytes") != std::string::npos;
        throw CheckFailed(
            saw, extra ? "send exactly N bytes for a request of N, nothing more" : no_close_hint);
    }
}

// bytes: exact replies of several sizes, then EOF after a half-close.
void check_bytes(Context& ctx) {
    const Deadline overall(60s);
    constexpr std::uint64_t sizes[] = {1, 26, 4000, 65536, 16777216};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        const std::uint64_t n = sizes[i];
        const bool last = i + 1 == std::size(sizes);
        const std::string what = fmt::format("connection {}, request \"{}\\n\"{}", i + 1, n,
                                             last ? " sent then half-closed at once" : "");
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(n), overall.within(3s), what);
        if (last) conn.shutdown_write();
        // Pause in the middle of the 16 MiB reply: the server's writes then
        // come up short, and what it does next is what this check is about.
        hinted([&] {
            expect_reply(ctx.reply(), conn, n, overall.within(last ? 10s : 3s), what,
                         last ? 1024 * 1024 : 0);
        });
        if (!last) conn.shutdown_write();
        expect_eof(conn, overall.within(2s),
                   last ? what + ", after the whole reply"
                        : what + ", after the reply and a half-close (shutdown SHUT_WR)");
    }
    {
        // A slow reader with a narrow window: the server's send buffer stays
        // small and full, so its writes come up short again and again, even
        // with a write budget per turn and writability asked for only while
        // output is pending (where a pause alone never makes them short).
        constexpr std::uint64_t n = 4ULL << 20;
        const std::string what = fmt::format(
            "connection 6 (4 KiB receive buffer, 536-byte MSS), request \"{}\\n\" read 4 KiB at a "
            "time",
            n);
        Connection conn = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
        conn.send_all(request_line(n), overall.within(3s), what);
        conn.shutdown_write();
        hinted([&] {
            expect_reply(ctx.reply(), conn, n, overall.within(15s), what,
                         Reading{.piece = 4096, .gap = std::chrono::microseconds(200)});
        });
        expect_eof(conn, overall.within(2s), what + ", after the whole reply");
    }
    if (!ctx.reply().alphabet()) {
        // Replies made of a file (sendfile): three at once, through narrow
        // windows, so the server's sends come up short and interleave. Each
        // connection must keep its own position in the file: a server that
        // moves one offset shared by all (the file's own, lseek() then
        // sendfile(sock, file, NULL, n)) mixes up their bytes.
        constexpr std::uint64_t n = 2ULL << 20;
        const std::string what =
            fmt::format("connections 7 to 9 at once (4 KiB receive buffers), \"{}\\n\" each", n);
        std::vector<Connection> conns;
        for (int i = 0; i < 3; ++i) {
            conns.push_back(Connection::open(ctx.port(), overall.within(3s), Window::narrow));
            conns.back().send_all(request_line(n), overall.within(3s), what);
            conns.back().shutdown_write();
        }
        try {
            expect_replies_together(ctx.reply(), conns, std::vector<std::uint64_t>(3, n),
                                    overall.within(15s), what, [] {});
        } catch (const CheckFailed& e) {
            throw CheckFailed(e.what(),
                              "keep each connection's own position in the file: pass "
                              "sendfile() a pointer to that connection's offset; the file's own "
                              "offset (lseek(), then sendfile(sock, file, NULL, n)) is shared by "
                              "every connection");
        }
    }
    {
        // The largest valid request, every byte checked (at O(1) memory):
        // about 1 to 2 s on loopback for a good server.
        const std::string what = fmt::format(
            "the last connection, request \"{}\\n\" (the largest N, every byte read)", largest);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(largest), overall.within(3s), what);
        conn.shutdown_write();
        hinted([&] { expect_reply(ctx.reply(), conn, largest, overall.within(25s), what); });
        expect_eof(conn, overall.within(2s), what + ", after the whole reply");
    }
}

}  // namespace

CSD_CHECK(bytes) {
    return {
        "bytes",
        15,
        check_bytes,
        "exact replies of 1 B to 1 GiB, every byte checked, also through a 4 KiB receive window "
        "(sendfile: three at once); EOF after a half-close",
        "write() may write less than asked: loop, and continue from where you stopped, not "
        "from the start of your buffer. Byte i of every reply is 'a' + i % 26, counted from "
        "the start of that reply. After the client half-closes, finish what you owe, then "
        "close",
        {"cpu"}};
}

}  // namespace csd::grade
