// malformed: bad requests get no reply and a closed connection; the largest N is accepted.
#include <fmt/format.h>

#include <cerrno>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

struct Bad {
    const char* name;
    std::string bytes;
};

std::vector<Bad> bad_requests() {
    return {
        {"letters", "abc\n"},
        {"zero", "0\n"},
        {"a sign", "-5\n"},
        {"23 digits", "12345678901234567890123\n"},
        {"N = 2^30 + 1, one too many", "1073741825\n"},
        {"40 digits and no newline", std::string(40, '1')},
        {"binary bytes", std::string("\x00\xff\x01"
                                     "abc\xfe\n",
                                     8)},
        {"a leading space", " 12\n"},
        {"a trailing space", "12 \n"},
    };
}

// Sends @p bytes; the server may close (even reset) before taking them all: fine here.
void send_tolerating_close(Connection& conn, std::string_view bytes, Deadline deadline) {
    std::size_t sent = 0;
    while (sent < bytes.size() && !deadline.expired()) {
        const long n = conn.send_some(bytes.substr(sent));
        if (n < 0) return;  // EPIPE/ECONNRESET: the server already closed
        sent += static_cast<std::size_t>(n);
    }
}

}  // namespace

void check_malformed(Context& ctx) {
    const Deadline overall(60s);
    for (const Bad& bad : bad_requests()) {
        const std::string what = fmt::format("request {} ({})", quote(bad.bytes), bad.name);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        send_tolerating_close(conn, bad.bytes, overall.within(2s));
        const auto start = Deadline::Clock::now();
        const Closing c = wait_closed(conn, overall.within(2s));
        if (c.extra > 0) {
            fail(
                fmt::format("{}: the server replied {} bytes ({}); a malformed request gets no "
                            "reply",
                            what, c.extra, quote(c.first, 20)));
        }
        if (c.how == ReadStatus::timeout) {
            fail(
                fmt::format("{}: the connection was still open {:.1f} s later; the server must "
                            "close it without replying",
                            what, seconds_since(start)));
        }
        conn.close();
        in_context("a fresh client after " + what,
                   [&] { fetch(ctx.port(), 4000, overall.within(3s), "request 4000"); });
    }
    // The largest valid request must be accepted: read its first 64 KiB, then reset.
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    const std::string what = "request \"1073741824\\n\" (the largest valid N)";
    conn.send_all("1073741824\n", overall.within(3s), what);
    expect_reply(conn, 64 * 1024, overall.within(5s), what + ", first 64 KiB of the reply");
    conn.reset();
    // Give the server a moment to see the reset, so that a server that dies
    // of it (check reset) is restarted before the next check, not during it.
    std::this_thread::sleep_for(scaled(200ms));
}

}  // namespace csd::grade
