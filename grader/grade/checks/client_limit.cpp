// client-limit (rst lab, docs/contract.md section 6, rst): a client gets at
// most 10 s of the server in all, which serves one connection at a time:
// one that sends its request a digit every 2 s and then reads the long
// reply slowly but steadily (so 10 s per phase, or a limit that restarts
// whenever the queue moves, never ends it), one whose 16,000 bytes are all
// written but never read (the server waits for its send queue), one that
// sends a digit every 2 s and never ends its line (10 s per wait of the
// request never ends it), and one that asks for 64 MiB and never reads it
// (the server's writes block) are each ended with an RST, and the client
// queued behind them is served.
// While the server waits for a send queue, it sleeps between its looks:
// most of a CPU spent there is a spin.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
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
/// How often the slow client sends one more piece of its request.
constexpr auto trickle_every = 2s;
/// The slow reader's request, a piece every 2 s: 640,000 bytes.
constexpr std::array<std::string_view, 4> slow_request{"6", "4", "0", "0000\n"};
/// The request of the client that never reads, a piece every 2 s: 16,000
/// bytes, which fit in the socket buffers (all written, then the wait for
/// the send queue).
constexpr std::array<std::string_view, 4> unread_request{"1", "6", "0", "00\n"};
/// How much of its reply the slow client reads, and how often.
constexpr std::size_t slow_read_bytes = 2048;
constexpr auto slow_read_every = 250ms;
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
// With @p trickle, one more digit of a request line is sent every 2 s meanwhile.
void expect_reset_in_time(Connection& conn, Deadline within, const std::string& who,
                          bool trickle = false) {
    const auto began = Deadline::Clock::now();
    ReadStatus how = ReadStatus::timeout;
    for (;;) {
        how = wait_end_unread(conn, trickle ? within.within(trickle_every) : within);
        if (how != ReadStatus::timeout || within.expired()) break;
        (void)conn.send_some("0");
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

// How long since @p since, in seconds.
double seconds_since(Deadline::Clock::time_point since) {
    return std::chrono::duration<double>(Deadline::Clock::now() - since).count();
}

// Fails when the server (@p ctx) used more than a quarter of a CPU since
// @p ticks_before, @p since: waiting for a send queue @p while.
void require_sleeps_waiting(Context& ctx, std::optional<std::uint64_t> ticks_before,
                            Deadline::Clock::time_point since, std::string_view what) {
    const auto ticks_after = procfs::cpu_ticks(ctx.pid());
    const double waited = seconds_since(since);
    if (!ticks_before || !ticks_after || waited <= 1.0) return;
    const double cpu = static_cast<double>(*ticks_after - *ticks_before) /
                       static_cast<double>(procfs::ticks_per_second()) / waited;
    ctx.log("client-limit: {:.0f} % of a CPU over the {:.1f} s of the send-queue wait ({})",
            cpu * 100, waited, what);
    if (cpu > most_cpu_waiting) {
        fail(fmt::format("while it waited {:.1f} s for the send queue of {}, the server used "
                         "{:.0f} % of a CPU: it spins instead of sleeping between its looks",
                         waited, what, cpu * 100),
             "no event says that the send queue is empty: look (SIOCOUTQ), and sleep a little "
             "before the next look, in a wait that a stop also ends; while the reply is "
             "still being written, wait in poll() for room (POLLOUT)");
    }
}

// A paced client, from the start of its turn: it sends the pieces of
// @p request a piece every 2 s (the line ended after 6 s), then, if
// @p reads, reads 2 KiB of the reply every 250 ms through a narrow window,
// so the server's queue keeps moving; otherwise it never reads. It must be
// reset within @p within all the same (10 s in all, not per phase, and not
// restarted by progress), and the server must sleep while it waits for it.
void expect_paced_client_reset(Context& ctx, Connection& conn, Deadline within,
                               const std::string& who,
                               const std::array<std::string_view, 4>& request, bool reads) {
    const auto began = Deadline::Clock::now();
    auto next_piece = began;
    std::size_t pieces = 0;
    std::optional<std::uint64_t> ticks_at_line;
    Deadline::Clock::time_point line_at{};
    std::uint64_t read = 0;
    std::array<char, slow_read_bytes> buffer{};
    for (;;) {
        if (pieces < request.size() && Deadline::Clock::now() >= next_piece) {
            (void)conn.send_some(request[pieces]);
            next_piece += trickle_every;  // the server's 10 s: not scaled
            if (++pieces == request.size()) {
                line_at = Deadline::Clock::now();
                ticks_at_line = procfs::cpu_ticks(ctx.pid());
            }
        }
        pollfd p{conn.fd(), POLLRDHUP, 0};  // an RST shows as POLLERR/POLLHUP
        const int step = std::min(
            within.poll_ms(), static_cast<int>(std::chrono::milliseconds(slow_read_every).count()));
        if (::poll(&p, 1, step) > 0 && (p.revents & (POLLERR | POLLHUP)) != 0) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(conn.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != ECONNRESET) {
                fail(fmt::format("{} was ended with an error, not an RST", who), limit_hint);
            }
            break;
        }
        if ((p.revents & POLLRDHUP) != 0 && pieces < request.size()) {
            fail(fmt::format("{} was ended with a FIN, not an RST", who), limit_hint);
        }
        if (reads && pieces == request.size()) {
            const long n = ::recv(conn.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n > 0) read += static_cast<std::uint64_t>(n);
            if (n == 0 && (p.revents & POLLRDHUP) != 0) {
                fail(fmt::format("{} was ended with a FIN, not an RST", who), limit_hint);
            }
        }
        if (within.expired()) {
            fail(fmt::format("{} still held the server {:.1f} s after its turn began, {} reply "
                             "bytes read (the limit is 10 s in all: for the request and the "
                             "reply together, whether or not the reply moves)",
                             who, seconds_since(began), read),
                 limit_hint);
        }
    }
    if (pieces == request.size()) {
        require_sleeps_waiting(ctx, ticks_at_line, line_at,
                               fmt::format("{} ({} bytes read)", who, read));
    }
}

// client-limit (rst): a client whose reply is written but never read, a
// client that trickles its request and a client whose reply cannot be
// written are each reset after 10 s, and the next client is served.
void check_client_limit(Context& ctx) {
    const Deadline overall(100s);
    // First the slow client: it sends its request a piece every 2 s, then
    // reads its reply slowly; 10 s for each phase, or for each wait, or a
    // limit that restarts whenever the reply moves, never ends it.
    Connection slow = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    const auto slow_turn = turn(overall);
    // 16,000 bytes fit in the socket buffers: the server's writes all
    // succeed, and what is left is the wait for the send queue to empty
    // (SIOCOUTQ), which never comes: that wait needs the deadline too, and
    // what is left of it (the request took 6 s), not 10 s afresh.
    Connection unread = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    // A digit every 2 s, never the end of the line: a limit taken anew for
    // each wait of the request never ends it, whatever the reply's limit.
    Connection trickling = Connection::open(ctx.port(), overall.within(3s));
    Connection stuck = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    stuck.send_all(request_line(64ULL << 20), overall.within(3s),
                   "a client that asks for 64 MiB and never reads");
    Connection next = Connection::open(ctx.port(), overall.within(3s));
    next.send_all(request_line(4000), overall.within(3s), "the client queued behind them");

    // The server's 10 s are not scaled; the grader's 1 s of margin is.
    // One client at a time: each one's 10 s start when the one before ends.
    expect_paced_client_reset(ctx, slow, slow_turn,
                              "a client that sent its request a digit every 2 s, then read its "
                              "640000-byte reply 2 KiB every 250 ms",
                              slow_request, true);
    expect_paced_client_reset(ctx, unread, turn(overall),
                              "a client that sent its request for 16000 bytes a digit every 2 s "
                              "and never read them (all written, waiting in the send queue)",
                              unread_request, false);
    expect_reset_in_time(trickling, turn(overall),
                         "a client that sent a digit of its request every 2 s and never ended "
                         "the line",
                         true);
    expect_reset_in_time(stuck, turn(overall),
                         "a client that asked for 64 MiB through a 4 KiB window and never read");
    const std::string label = fmt::format(
        "the client queued behind four that each took their 10 s (one sent its request and "
        "read its reply too slowly, one never ended its request, two never read their "
        "replies)");
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
            "rst: a client that trickles its request for 6 s and then reads its reply slowly but "
            "steadily, one whose 16000 bytes are written but never read, one that trickles its "
            "request and never ends it, and one that asks for 64 MiB and never reads are each "
            "reset after the 10 s a client may take in all, the server sleeping while it waits; "
            "the client queued behind them is then served",
            limit_hint,
            {},
            Lifecycle::serves};
}

}  // namespace csd::grade
