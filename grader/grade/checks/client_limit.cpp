// client-limit (rst lab, docs/contract.md section 6, rst): a client gets at
// most 10 s of the server in all, which serves one connection at a time:
// one whose 16,000 bytes are all written but never read (the server waits
// for its send queue), one that sends a byte of its request every 2 s and
// never ends the line, and one that asks for 64 MiB and never reads it
// (the server's writes block) are each ended with an RST, and the client
// queued behind them is served. While the server waits for that send
// queue, it sleeps between its looks: most of a CPU spent there is a spin.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "checks.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr const char* limit_hint =
    "give each client 10 s in all, from its accept: wait for its request and for the "
    "acknowledgement of the reply with a deadline (poll() with what is left of the 10 s), and "
    "when it passes, close with SO_LINGER {1, 0} like every other connection";

/// The server's own limit per client (not scaled: the contract's 10 s).
constexpr auto client_time = 10s;
/// The grader's margin over it (scaled).
constexpr auto margin = 1s;
/// How often the trickling client sends one more byte of its request.
constexpr auto trickle_every = 2s;
/// Most of a CPU the server may use while it waits for a send queue.
constexpr double most_cpu_waiting = 0.25;

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

// The limit of one client's turn, from now: its 10 s and the margin.
Deadline turn(const Deadline& overall) {
    return overall.within_fixed(client_time, margin);
}

// Fails unless @p conn is ended with an RST before @p within; @p who names it.
// With @p trickle, one more byte of a request line is sent every 2 s meanwhile.
void expect_reset_in_time(Connection& conn, Deadline within, const std::string& who,
                          bool trickle = false) {
    const auto began = Deadline::Clock::now();
    ReadStatus how = ReadStatus::timeout;
    for (;;) {
        const Deadline step = trickle ? within.within(trickle_every) : within;
        how = wait_end_unread(conn, step);
        if (how != ReadStatus::timeout || within.expired()) break;
        conn.send_some("0");
    }
    if (how == ReadStatus::timeout) {
        const double held = std::chrono::duration<double>(Deadline::Clock::now() - began).count();
        fail(fmt::format("{} still held the server {:.1f} s after its turn began (the limit is "
                         "10 s in all)",
                         who, held),
             limit_hint);
    }
    if (how != ReadStatus::reset) {
        fail(fmt::format("{} was ended with {}, not an RST", who,
                         how == ReadStatus::eof ? "a FIN" : "an error"),
             limit_hint);
    }
}

// client-limit (rst): a client whose reply is written but never read, a
// client that trickles its request and a client whose reply cannot be
// written are each reset after 10 s, and the next client is served.
void check_client_limit(Context& ctx) {
    const Deadline overall(80s);
    // 16,000 bytes fit in the socket buffers: the server's writes all
    // succeed, and what is left is the wait for the send queue to empty
    // (SIOCOUTQ), which never comes: that wait needs the deadline too.
    Connection unread = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    unread.send_all(request_line(16000), overall.within(3s),
                    "a client that asks for 16000 bytes and never reads");
    const auto ticks_before = procfs::cpu_ticks(ctx.pid());
    const auto waiting_since = Deadline::Clock::now();
    Connection trickling = Connection::open(ctx.port(), overall.within(3s));
    Connection stuck = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    stuck.send_all(request_line(64ULL << 20), overall.within(3s),
                   "a client that asks for 64 MiB and never reads");
    Connection next = Connection::open(ctx.port(), overall.within(3s));
    next.send_all(request_line(4000), overall.within(3s), "the client queued behind them");

    // The server's 10 s are not scaled; the grader's 1 s of margin is.
    // One client at a time: each one's 10 s start when the one before ends.
    expect_reset_in_time(unread, turn(overall),
                         "a client that asked for 16000 bytes and never read them (all written, "
                         "waiting in the send queue)");
    const auto ticks_after = procfs::cpu_ticks(ctx.pid());
    const double waited =
        std::chrono::duration<double>(Deadline::Clock::now() - waiting_since).count();
    if (ticks_before && ticks_after && waited > 1.0) {
        const double cpu = static_cast<double>(*ticks_after - *ticks_before) /
                           static_cast<double>(procfs::ticks_per_second()) / waited;
        ctx.log("client-limit: {:.0f} % of a CPU over the {:.1f} s of the send-queue wait",
                cpu * 100, waited);
        if (cpu > most_cpu_waiting) {
            fail(fmt::format("while it waited {:.1f} s for a send queue that never empties (a "
                             "client that never read its 16000 bytes), the server used {:.0f} % "
                             "of a CPU: it spins instead of sleeping between its looks",
                             waited, cpu * 100),
                 "no event says that the send queue is empty: look (SIOCOUTQ), and sleep a "
                 "little before the next look, in a wait that a stop also ends");
        }
    }
    // The next sends a digit every 2 s and never a whole line: a fresh
    // 10 s for each wait, instead of 10 s in all, never ends it.
    expect_reset_in_time(trickling, turn(overall),
                         "a client that sent a digit of its request every 2 s and never ended "
                         "the line",
                         true);
    expect_reset_in_time(stuck, turn(overall),
                         "a client that asked for 64 MiB through a 4 KiB window and never read");
    const std::string label = fmt::format(
        "the client queued behind three that each took their 10 s (one never ended its request, "
        "two never read their reply)");
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
            "rst: a client that trickles its request and never ends it, one that asks for 64 MiB "
            "and never reads, and one whose 16000 bytes are written but never read are each "
            "reset after the 10 s a client may take in all, the server sleeping while it waits; "
            "the client queued behind them is then served",
            limit_hint,
            {},
            Lifecycle::serves};
}

}  // namespace csd::grade
