// What the cork lab's segments and uncork checks share: small replies
// asked for one at a time, each seen by the grader's own socket (TCP_INFO:
// the segments that brought it) and timed.
#include "cork_samples.hpp"

#include <linux/tcp.h>  // struct tcp_info with tcpi_data_segs_in (glibc's lacks it)
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <optional>

#include "expect.hpp"

namespace csd::grade::cork {

using namespace std::chrono_literals;

namespace {

// Segments with data the grader's socket @p fd has received so far, or
// nullopt when the kernel does not count them (TCP_INFO too old).
std::optional<std::uint32_t> data_segments_in(int fd) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
    const auto needed = offsetof(tcp_info, tcpi_data_segs_in) + sizeof info.tcpi_data_segs_in;
    if (len < needed) return std::nullopt;
    return info.tcpi_data_segs_in;
}

}  // namespace

std::vector<Sample> sample_replies(Context& ctx, int count, std::uint64_t size) {
    const Deadline overall(30s);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.set_nodelay();
    std::vector<Sample> samples;
    for (int i = 1; i <= count; ++i) {
        const std::string what =
            fmt::format("request {} of {} for {} bytes on one connection", i, count, size);
        const auto before = data_segments_in(conn.fd());
        if (!before) skip("TCP_INFO does not count the segments received (tcpi_data_segs_in)");
        const auto start = Clock::now();
        conn.send_all(request_line(size), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, size, overall.within(3s), what);
        const auto latency = Clock::now() - start;
        samples.push_back({*data_segments_in(conn.fd()) - *before, latency});
    }
    return samples;
}

}  // namespace csd::grade::cork
