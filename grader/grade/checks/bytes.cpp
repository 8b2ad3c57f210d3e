// bytes: one connection per size; every reply byte checked; EOF after a half-close.
#include <fmt/format.h>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_bytes(Context& ctx) {
    const Deadline overall(40s);
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
        expect_reply(conn, n, overall.within(last ? 10s : 3s), what, last ? 1024 * 1024 : 0);
        if (!last) conn.shutdown_write();
        expect_closed(conn, overall.within(2s),
                      last ? what + ", after the whole reply"
                           : what + ", after the reply and a half-close (shutdown SHUT_WR)");
    }
}

}  // namespace csd::grade
