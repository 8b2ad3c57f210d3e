// client-limit (rst lab, docs/contract.md section 6, rst): a client gets at
// most 10 s of the server, which serves one connection at a time: one that
// sends nothing, then one that asks for 64 MiB and never reads it, are each
// ended with an RST, and the client queued behind them is served.
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr const char* limit_hint =
    "give each client 10 s in all, from its accept: wait for its request and for the "
    "acknowledgement of the reply with a deadline (poll() with what is left of the 10 s), and "
    "when it passes, close with SO_LINGER {1, 0} like every other connection";

// client-limit (rst): a silent client and a client that never reads are each reset after
// 10 s, and the next client is served.
void check_client_limit(Context& ctx) {
    const Deadline overall(60s);
    Connection silent = Connection::open(ctx.port(), overall.within(3s));
    Connection stuck = Connection::open(ctx.port(), overall.within(3s), Window::narrow);
    stuck.send_all(request_line(64ULL << 20), overall.within(3s),
                   "a client that asks for 64 MiB and never reads");
    Connection next = Connection::open(ctx.port(), overall.within(3s));
    next.send_all(request_line(4000), overall.within(3s), "the client queued behind them");

    // The server's 10 s are not scaled; the grader's 3 s of margin are.
    const Deadline first = overall.within(10s + 3s);
    const Closing silent_end = wait_closed(silent, first);
    if (silent_end.how == ReadStatus::timeout) {
        fail(fmt::format("a client that connected and sent nothing still held the server {:.0f} "
                         "s later (the limit is 10 s)",
                         scaled_seconds(13s)),
             limit_hint);
    }
    if (silent_end.how != ReadStatus::reset) {
        fail(fmt::format("a client that connected and sent nothing was ended with {}, not an "
                         "RST",
                         silent_end.how == ReadStatus::eof ? "a FIN" : "an error"),
             limit_hint);
    }
    // The server now writes the 64 MiB reply into a 4 KiB window and waits:
    // the next client is served once the 10 s of that one are over.
    const std::string label = fmt::format(
        "the client queued behind one that sent nothing and one that never reads its reply "
        "(each has 10 s)");
    try {
        expect_reply(ctx.reply(), next, 4000, overall.within(10s + 3s), label);
    } catch (const CheckFailed& e) {
        fail(e.what(), limit_hint);
    }
    const Closing stuck_end = wait_closed(stuck, overall.within(3s));
    if (stuck_end.how != ReadStatus::reset) {
        fail(fmt::format("the client that never read its 64 MiB reply was then {}, not reset",
                         stuck_end.how == ReadStatus::eof       ? "closed with a FIN"
                         : stuck_end.how == ReadStatus::timeout ? "still connected"
                                                                : "ended with an error"),
             limit_hint);
    }
}

}  // namespace

CSD_CHECK(client_limit) {
    return {"client-limit",
            10,
            check_client_limit,
            "rst: a client that sends nothing, then one that asks for 64 MiB and never reads, "
            "are each reset after the 10 s a client may take; the client queued behind them is "
            "then served",
            limit_hint,
            {},
            Lifecycle::serves};
}

}  // namespace csd::grade
