// malformed: every kind of bad request of the contract (docs/contract.md,
// section 1), each on its own connection, gets no reply and a closed
// connection; the valid requests at the edges of the rules are answered.
#include <fmt/format.h>
#include <poll.h>

#include <cerrno>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Reads the header line of a reply byte by byte: fails unless it is @p want.
void expect_header_line(Connection& conn, std::string_view want, Deadline deadline) {
    std::string got;
    while (got.size() < want.size() && (got.empty() || got.back() != '\n')) {
        char c = 0;
        const ReadResult r = conn.read_some(&c, 1, deadline);
        if (r.status != ReadStatus::data) break;
        got.push_back(c);
    }
    if (got == want) return;
    fail(fmt::format("the header line \"{}\" was expected first, got \"{}\"",
                     want.substr(0, want.size() - 1), got));
}

struct Bad {
    std::string name;
    std::string bytes;
};

// What a lenient parser answers: a valid request after the bad line, so
// that a server that skips or accepts the bad line replies at once (and is
// caught without waiting for a timeout).
const std::string then_valid = "4\n";

std::vector<Bad> bad_requests() {
    using namespace std::string_literals;
    const std::string zeros31(31, '0');
    std::vector<Bad> bad = {
        {"an empty line", "\n"},
        {"an empty line ending in \\r", "\r\n"},
        {"letters", "abc\n"},
        {"digits then a letter", "12a\n"},
        {"hexadecimal", "0x10\n"},
        {"an exponent", "1e3\n"},
        {"a decimal point", "12.0\n"},
        {"N = 0", "0\n"},
        {"N = 0 written 000", "000\n"},
        {"N = 0 in 32 zeros", std::string(32, '0') + "\n"},
        {"a minus sign", "-5\n"},
        {"a plus sign", "+5\n"},
        {"a leading space", " 12\n"},
        {"a trailing space", "12 \n"},
        {"a space inside", "1 2\n"},
        {"a tab", "\t12\n"},
        {"two \\r before the \\n", "12\r\r\n"},
        {"a \\r first", "\r12\n"},
        {"a \\r inside", "1\r2\n"},
        {"a NUL byte first", "\0"s + "12\n"},
        {"a NUL byte before the \\n", "12\0\n"s},
        {"binary bytes", "\x00\xff\x01"s + "abc\xfe\n"},
        {"N = 2^30 + 1, one too many", "1073741825\n"},
        {"N = 2^31", "2147483648\n"},
        {"N = 2^32 (0 in 32 bits)", "4294967296\n"},
        {"N = 2^32 + 4 (4 in 32 bits)", "4294967300\n"},
        {"N = 2^64 + 4 (4 in 64 bits)", "18446744073709551620\n"},
        {"23 digits", "12345678901234567890123\n"},
        {"33 bytes: 4 padded with 32 zeros", std::string(32, '0') + "4\n"},
        {"33 bytes with the \\r: 4 padded with 31 zeros", zeros31 + "4\r\n"},
    };
    for (Bad& b : bad) b.bytes += then_valid;
    // Too long with no '\n' yet: the server must not wait for one.
    bad.push_back({"33 digits and no \\n", std::string(33, '1')});
    bad.push_back({"4 padded with 32 zeros (33 bytes) and no \\n", std::string(32, '0') + "4"});
    bad.push_back({"31 zeros, 4 and \\r (33 bytes) and no \\n", zeros31 + "4\r"});
    bad.push_back({"64 KiB of digits and no \\n", std::string(64 * 1024, '7')});
    return bad;
}

// One bad request on its own connection, and what became of it.
struct Trial {
    const Bad* bad = nullptr;
    Connection conn;
    std::size_t sent = 0;    // request bytes sent so far
    std::size_t extra = 0;   // reply bytes received
    std::string first = {};  // the first of them
    bool closed = false;     // EOF or RST seen
};

// Sends what the socket takes of the rest of @p t's request; the server
// may close (even reset) before taking it all: fine here.
void send_more(Trial& t) {
    if (t.sent >= t.bad->bytes.size()) return;
    const long n = t.conn.send_some(std::string_view(t.bad->bytes).substr(t.sent));
    if (n < 0) {
        t.sent = t.bad->bytes.size();  // EPIPE/ECONNRESET: the server already closed
    } else {
        t.sent += static_cast<std::size_t>(n);
    }
}

// Reads what arrived on @p t: reply bytes, or the close.
void read_from(Trial& t) {
    char buf[4096];
    const ReadResult r = t.conn.read_some(buf, sizeof buf, Deadline(0ms));
    if (r.status == ReadStatus::data) {
        if (t.first.size() < 20) t.first.append(buf, std::min<std::size_t>(r.bytes, 20));
        t.extra += r.bytes;
    } else if (r.status != ReadStatus::timeout) {
        t.closed = true;
        t.conn.close();
    }
}

// Runs every trial at once (an iterative server takes them in turn) until
// each connection is closed or @p deadline.
void run_all(std::vector<Trial>& trials, Deadline deadline) {
    for (Trial& t : trials) send_more(t);
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<Trial*> open;
        for (Trial& t : trials) {
            if (t.closed) continue;
            const bool more = t.sent < t.bad->bytes.size();
            fds.push_back({t.conn.fd(), static_cast<short>(POLLIN | (more ? POLLOUT : 0)), 0});
            open.push_back(&t);
        }
        if (fds.empty() || deadline.expired()) return;
        const int n = ::poll(fds.data(), fds.size(), std::min(deadline.poll_ms(), 50));
        if (n <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents & POLLOUT) send_more(*open[i]);
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_from(*open[i]);
        }
    }
}

// What went wrong with @p t, or empty when the server did it right.
std::string verdict(const Trial& t) {
    if (t.extra > 0) {
        return fmt::format("the server replied {} bytes ({}) instead of closing", t.extra,
                           quote(t.first, 20));
    }
    if (!t.closed) return "the connection was still open, with no reply";
    return {};
}

// The valid requests at the edges of the rules: each is answered exactly.
struct Good {
    std::string name;
    std::string bytes;
    std::uint64_t reply;
};

std::vector<Good> good_requests() {
    return {
        {"N = 1 padded with 31 zeros (32 bytes, the longest line)", std::string(31, '0') + "1\n",
         1},
        {"N = 26 padded with 29 zeros and a \\r (32 bytes with the \\r)",
         std::string(29, '0') + "26\r\n", 26},
        {"leading zeros", "0004\n", 4},
        {"a valid request, then a bad one", "4\n-1\n", 4},
    };
}

const char* const too_strict_hint =
    "that request is valid: digits only (leading zeros are digits too: 0004 is 4), "
    "1 <= N <= 1073741824, at most 32 bytes before the \\n with a \\r counted; the requests "
    "before a bad one are answered, then the connection is closed";

// malformed: bad requests close the connection without a reply; N max is accepted.
void check_malformed(Context& ctx) {
    const Deadline overall(60s);
    const std::vector<Bad> bad = bad_requests();
    std::vector<Trial> trials;
    for (const Bad& b : bad) {
        trials.push_back({.bad = &b, .conn = Connection::open(ctx.port(), overall.within(3s))});
    }
    ctx.log("{} malformed requests, one per connection, all at once", trials.size());
    run_all(trials, overall.within(3s));
    in_context(
        fmt::format("{} malformed requests at once", trials.size()),
        [&] { ctx.require_running("afterwards"); },
        "nothing a client sends may crash the server: a malformed request only closes that "
        "client's connection");
    std::vector<std::string> wrong;
    bool replied = false;  // the first wrong one got a reply (else it stayed open)
    for (const Trial& t : trials) {
        const std::string v = verdict(t);
        if (v.empty()) continue;
        if (wrong.empty()) replied = t.extra > 0;
        wrong.push_back(fmt::format("request {} ({}): {}", quote(t.bad->bytes), t.bad->name, v));
    }
    if (!wrong.empty()) {
        std::string saw = fmt::format("{} of {} malformed requests were not refused; the first: {}",
                                      wrong.size(), trials.size(), wrong.front());
        if (wrong.size() > 1) saw += "; then: " + wrong[1];
        fail(saw + " (each request was sent on its own connection)",
             replied ? "that line is malformed: digits only (no sign, space, other byte or second "
                       "\\r), 1 <= N <= 1073741824, at most 32 bytes before the \\n with a \\r "
                       "counted, and an empty line is malformed too. Close the connection "
                       "without replying (what came before it is still answered)"
                     : "a line that is already malformed must be refused at once: close the "
                       "connection without waiting for more bytes; more than 32 bytes without "
                       "a \\n is malformed, whatever follows");
    }
    trials.clear();
    in_context("a fresh client after the malformed requests",
               [&] { fetch(ctx.reply(), ctx.port(), 4000, overall.within(3s), "request 4000"); });

    for (const Good& g : good_requests()) {
        const std::string what = fmt::format("request {} ({})", quote(g.bytes), g.name);
        in_context(
            what,
            [&] {
                Connection conn = Connection::open(ctx.port(), overall.within(3s));
                conn.send_all(g.bytes, overall.within(3s), "the request");
                conn.shutdown_write();
                expect_reply(ctx.reply(), conn, g.reply, overall.within(3s), "the reply");
                expect_closed(conn, overall.within(2s), "after the reply");
            },
            too_strict_hint);
    }
    // The largest valid request must be accepted: read its first 64 KiB, then
    // reset (check bytes reads a whole one).
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    const std::string what = "request \"1073741824\\n\" (the largest valid N)";
    conn.send_all("1073741824\n", overall.within(3s), what);
    in_context(
        what,
        [&] {
            // cork: its header line first, then the start of the body.
            if (ctx.reply().header_line()) {
                expect_header_line(conn, "1073741824\n", overall.within(5s));
            }
            expect_reply(ctx.reply().body_only(), conn, 64 * 1024, overall.within(5s),
                         "first 64 KiB of the reply");
        },
        too_strict_hint);
    conn.reset();
    // Give the server a moment to see the reset, so that a server that dies
    // of it (check reset) is restarted before the next check, not during it.
    std::this_thread::sleep_for(scaled(200ms));
}

}  // namespace

CSD_CHECK(malformed) {
    return {"malformed", 10, check_malformed,
            "34 bad requests, each on its own connection, get no reply and a closed connection; "
            "the valid edge cases (32-byte lines, N = 1073741824) are answered",
            "accept digits only, 1 <= N <= 1073741824, at most 32 bytes before the \\n (a \\r "
            "before it allowed); otherwise close that connection without replying and go on "
            "serving the others. Check the limit while parsing, so a long number cannot overflow"};
}

}  // namespace csd::grade
