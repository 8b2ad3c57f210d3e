// client-limit (rst lab, docs/contract.md section 6, rst): a client gets at
// most 10 s of the server, which serves one connection at a time: one that
// sends nothing, one that asks for 64 MiB and never reads it (the server's
// writes block) and one whose 16,000 bytes are all written but never read
// (the server waits for its send queue) are each ended with an RST, and the
// client queued behind them is served.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr const char* limit_hint =
    "give each client 10 s in all, from its accept: wait for its request and for the "
    "acknowledgement of the reply with a deadline (poll() with what is left of the 10 s), and "
    "when it passes, close with SO_LINGER {1, 0} like every other connection";

// How @p conn ends, watched WITHOUT reading from it (a client that never
// reads must stay one): an RST shows as POLLERR/POLLHUP with ECONNRESET
// pending, a FIN as POLLRDHUP; timeout when neither comes by @p within.
ReadStatus wait_end_unread(const Connection& conn, Deadline within) {
    for (;;) {
        pollfd p{conn.fd(), POLLRDHUP, 0};
        const int ready = ::poll(&p, 1, within.poll_ms());
        if (ready > 0 && (p.revents & (POLLERR | POLLHUP)) != 0) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(conn.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
            return err == ECONNRESET ? ReadStatus::reset : ReadStatus::error;
        }
        if (ready > 0 && (p.revents & POLLRDHUP) != 0) return ReadStatus::eof;
        if (within.expired()) return ReadStatus::timeout;
    }
}

// Fails unless @p conn is ended with an RST before @p within; @p who names it.
void expect_reset_in_time(const Connection& conn, Deadline within, const std::string& who) {
    const ReadStatus how = wait_end_unread(conn, within);
    if (how == ReadStatus::timeout) {
        fail(fmt::format("{} still held the server {:.0f} s after its turn began (the limit is "
                         "10 s)",
                         who, scaled_seconds(13s)),
             limit_hint);
    }
    if (how != ReadStatus::reset) {
        fail(fmt::format("{} was ended with {}, not an RST", who,
                         how == ReadStatus::eof ? "a FIN" : "an error"),
             limit_hint);
    }
}

// client-limit (rst): a silent client, a client whose reply cannot be
// written and a client whose reply is written but never read are each
// reset after 10 s, and the next client is served.
void check_client_limit(Context& ctx) {
    const Deadline overall(80s);
    Connection silent = Connection::open(ctx.port(), overall.within(3s));
    Connection stuck = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    stuck.send_all(request_line(64ULL << 20), overall.within(3s),
                   "a client that asks for 64 MiB and never reads");
    // 16,000 bytes fit in the socket buffers: the server's writes all
    // succeed, and what is left is the wait for the send queue to empty
    // (SIOCOUTQ), which never comes: that wait needs the deadline too.
    Connection unread = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    unread.send_all(request_line(16000), overall.within(3s),
                    "a client that asks for 16000 bytes and never reads");
    Connection next = Connection::open(ctx.port(), overall.within(3s));
    next.send_all(request_line(4000), overall.within(3s), "the client queued behind them");

    // The server's 10 s are not scaled; the grader's 3 s of margin are.
    // One client at a time: each one's 10 s start when the one before ends.
    expect_reset_in_time(silent, overall.within(10s + 3s),
                         "a client that connected and sent nothing");
    expect_reset_in_time(stuck, overall.within(10s + 3s),
                         "a client that asked for 64 MiB through a 4 KiB window and never read");
    expect_reset_in_time(unread, overall.within(10s + 3s),
                         "a client that asked for 16000 bytes and never read them (all written, "
                         "waiting in the send queue)");
    const std::string label = fmt::format(
        "the client queued behind three that each took their 10 s (one sent nothing, two never "
        "read their reply)");
    try {
        expect_reply(ctx.reply(), next, 4000, overall.within(3s), label);
    } catch (const CheckFailed& e) {
        fail(e.what(), limit_hint);
    }
}

}  // namespace

CSD_CHECK(client_limit) {
    return {"client-limit",
            10,
            check_client_limit,
            "rst: a client that sends nothing, one that asks for 64 MiB and never reads, and one "
            "whose 16000 bytes are written but never read are each reset after the 10 s a "
            "client may take; the client queued behind them is then served",
            limit_hint,
            {},
            Lifecycle::serves};
}

}  // namespace csd::grade
