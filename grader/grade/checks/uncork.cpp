// uncork (cork lab, docs/contract.md, section 6, "cork"): small replies
// arrive in one TCP segment each, promptly: not held back until the
// kernel's cork timer sends them.
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <chrono>

#include "checks.hpp"
#include "cork_samples.hpp"
#include "expect.hpp"
#include "peer_socket.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace cork;

namespace {

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

// After a complete reply of @p size bytes, the server's socket of the
// connection has TCP_NODELAY on (the contract) and TCP_CORK off (a reply is
// never left corked, however long: the timer would send its tail), read
// from the server's own descriptor. Where it cannot be read (pidfd_getfd),
// logged and left out.
void require_socket_options(Context& ctx, std::uint64_t size) {
    const Deadline overall(20s);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    const std::string what = fmt::format("one request for {} bytes", size);
    conn.send_all(request_line(size), overall.within(3s), what);
    expect_reply(ctx.reply(), conn, size, overall.within(15s), what);
    const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), conn.local_port());
    if (!fd) {
        ctx.require_running("after one reply");
        fail("after one reply, the server holds no socket of the connection (/proc/PID/fd)");
    }
    std::string why_not;
    const auto nodelay = peer_socket_option(ctx.pid(), *fd, IPPROTO_TCP, TCP_NODELAY, &why_not);
    const auto corked = peer_socket_option(ctx.pid(), *fd, IPPROTO_TCP, TCP_CORK, &why_not);
    if (!nodelay || !corked) {
        ctx.log("the server's socket options not read: {}", why_not);
        return;
    }
    ctx.log("the server's socket after a reply of {} bytes: TCP_NODELAY {}, TCP_CORK {}", size,
            *nodelay, *corked);
    if (*nodelay == 0) {
        fail(fmt::format("after a complete reply, the server's socket of the connection (fd {}) "
                         "has TCP_NODELAY off (getsockopt on a duplicate, pidfd_getfd)",
                         *fd),
             "turn TCP_NODELAY on for each connection (the contract): the cork decides what "
             "leaves together, and once it is off nothing should wait for an ACK (Nagle)");
    }
    if (*corked != 0) {
        fail(fmt::format("after a complete reply of {} bytes, the server's socket of the "
                         "connection (fd {}) still has TCP_CORK on: that reply's tail waited "
                         "for the cork timer",
                         size, *fd),
             "clear TCP_CORK once the body is written, whatever its length");
    }
}

// uncork (cork): small replies arrive in one segment, promptly (not after the cork timer).
void check_uncork(Context& ctx) {
    // The cork timer of Linux is 200 ms whatever the machine: the threshold
    // grows with the time scale, but stays below it.
    const auto threshold = std::min<Clock::duration>(scaled(100ms), 150ms);
    const auto samples = sample_replies(ctx, samples_taken, 500);
    const auto good = std::count_if(samples.begin(), samples.end(), [&](const Sample& s) {
        return s.segments == 1 && s.latency < threshold;
    });
    const auto shown = [](const Sample& s) {
        return fmt::format("{:.1f} ms/{}", ms(s.latency), s.segments);
    };
    ctx.log("latency/segments per reply: {}", list(samples, shown));
    if (good < samples_needed) {
        fail(
            fmt::format("{} replies of 500 bytes, one at a time (time from request to last "
                        "byte / TCP segments): {}; only {} came whole in one segment within "
                        "{:.0f} ms, {} needed",
                        samples_taken, list(samples, shown), good, ms(threshold), samples_needed));
    }
    // Large bodies too: a reply of 100 KiB leaves in several segments, and
    // the last one, shorter than a segment, waits for the cork timer unless
    // the server clears TCP_CORK after this body as after any other.
    constexpr int large_taken = 5;
    constexpr int large_needed = 4;
    const auto large = sample_replies(ctx, large_taken, 100 * 1024);
    const auto prompt = std::count_if(large.begin(), large.end(),
                                      [&](const Sample& s) { return s.latency < threshold; });
    const auto timed = [](const Sample& s) { return fmt::format("{:.1f} ms", ms(s.latency)); };
    ctx.log("latency per 100 KiB reply: {}", list(large, timed));
    if (prompt < large_needed) {
        fail(fmt::format("{} replies of 102400 bytes, one at a time (time from request to last "
                         "byte): {}; only {} came whole within {:.0f} ms, {} needed",
                         large_taken, list(large, timed), prompt, ms(threshold), large_needed),
             "clear TCP_CORK after every body, however long: the end of a long reply, shorter "
             "than a segment, otherwise waits for the kernel's 200 ms cork timer");
    }
    // A small reply, and long ones: a server that clears the cork only up
    // to some length leaves the longer replies corked.
    for (const std::uint64_t size :
         {std::uint64_t{500}, std::uint64_t{(3u << 20) + 1}, std::uint64_t{(64u << 20) + 1}}) {
        require_socket_options(ctx, size);
    }
}

}  // namespace

CSD_CHECK(uncork) {
    return {"uncork",
            10,
            check_uncork,
            "cork: 10 small replies, one at a time: at least 8 arrive in one segment within "
            "100 ms of their request; and 4 of 5 replies of 100 KiB within 100 ms",
            "clear TCP_CORK right after the body, on every path: a reply left corked waits for "
            "the kernel's 200 ms cork timer",
            {"cpu"}};
}

}  // namespace csd::grade
