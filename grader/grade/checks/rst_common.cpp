// What the checks of the rst lab (reply, rst, time-wait) share: how the
// server ended a connection after its one reply.
#include "rst_common.hpp"

#include <fmt/format.h>

#include "expect.hpp"

namespace csd::grade::rst {

using namespace std::chrono_literals;

ReadStatus expect_end(Connection& conn, Deadline deadline, const std::string& what) {
    const Closing end = wait_closed(conn, deadline);
    if (end.extra > 0) {
        fail(fmt::format("{}: {} bytes more than the reply arrived ({})", what, end.extra,
                         quote(end.first)));
    }
    if (end.how == ReadStatus::timeout) {
        fail(fmt::format("{}: after the whole reply, the server did not end the connection "
                         "(neither RST nor FIN within {:.0f} s)",
                         what, scaled_seconds(3s)),
             "the server ends each connection itself, right after its one reply: wait until "
             "the reply is acknowledged, then close with SO_LINGER {1, 0}");
    }
    return end.how;
}

}  // namespace csd::grade::rst
