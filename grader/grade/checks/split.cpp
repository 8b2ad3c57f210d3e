// split: a request line arriving in several TCP segments.
#include <fmt/format.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Sends @p pieces as separate segments, @p pause apart, then expects @p n bytes.
void split_request(Context& ctx, const std::vector<std::string>& pieces,
                   std::chrono::milliseconds pause, std::uint64_t n, Deadline overall) {
    std::string shown;
    for (const auto& p : pieces) shown += (shown.empty() ? "" : " + ") + quote(p);
    const std::string what = fmt::format("request sent in {} pieces {} ({} ms apart)",
                                         pieces.size(), shown, pause.count());
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.set_nodelay();
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0) std::this_thread::sleep_for(scaled(pause));
        conn.send_all(pieces[i], overall.within(3s), what);
    }
    expect_reply(ctx.reply(), conn, n, overall.within(5s), what);
}

// split: a request arriving in several TCP segments.
void check_split(Context& ctx) {
    const Deadline overall(20s);
    split_request(ctx, {"40", "00\n"}, 300ms, 4000, overall);
    split_request(ctx, {"6", "55", "36\n"}, 150ms, 65536, overall);
}

}  // namespace

CSD_CHECK(split) {
    return {"split", 5, check_split, "a request arriving in 2 and in 3 TCP segments",
            "TCP is a byte stream, not messages: a request may arrive in pieces; keep the bytes of "
            "an unfinished line until its \\n arrives"};
}

}  // namespace csd::grade
