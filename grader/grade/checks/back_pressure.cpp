// back-pressure: a client that pipelines requests without reading any reply
// must not make the server's memory grow, nor stop it serving the others;
// nor may 8 such clients at once (a cap per client that is generous alone
// adds up over many clients); nor a client that reads its replies, but
// slowly, while it pipelines more requests.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mib = 1024 * 1024;
// The most the server's processes may grow (VmRSS, summed over the tree)
// while the client floods it. A server that stops reading once it has a
// few requests queued grows by well under 1 MiB, under ASan too; one that
// queues every request grows by 4 bytes per byte of "1\n" sent.
constexpr std::uint64_t growth_bound = 48 * mib;
// The client stops sending after this many request bytes.
constexpr std::uint64_t flood_limit = 64 * mib;
// The flooding clients of the second part, all at once, and the request
// bytes each sends at most.
constexpr int flooders = 8;
constexpr std::uint64_t flooder_limit = 8 * mib;
// The most the server may grow per flooding client while they flood at
// once: the contract's "a few KiB" of requests held per client, with room
// for what the design spends; a server that reads megabytes ahead for
// each client fails here, though one client alone stays within
// growth_bound. The reference solutions grow by well under 0.2 MiB per
// client, under ASan too.
constexpr std::uint64_t per_flooder_bound = 1 * mib;
constexpr std::uint64_t flooders_bound = flooders * per_flooder_bound;
// The first requests: 100 replies of 4 MiB, 400 MiB that are never read.
constexpr int big_requests = 100;
constexpr std::uint64_t big_reply = 4 * mib;

const char* const hint_text =
    "stop reading from a client while it has many requests waiting for their replies (the "
    "library's Session::wants_input() is false after csd::max_queued_requests of them): the "
    "client's own socket buffers then fill and it waits. Never build a reply in memory: send "
    "it from a small pattern";

// The request bytes: the big requests, then "1\n" until flood_limit.
class Flood {
  public:
    Flood() {
        for (int i = 0; i < big_requests; ++i) head_ += request_line(big_reply);
        for (int i = 0; i < 32 * 1024; ++i) ones_ += "1\n";
    }
    // The next bytes to send after @p sent bytes.
    [[nodiscard]] std::string_view next(std::uint64_t sent) const {
        if (sent < head_.size()) return std::string_view(head_).substr(sent);
        const auto at = static_cast<std::size_t>((sent - head_.size()) % ones_.size());
        return std::string_view(ones_).substr(at);
    }
    // Replies asked for by the first @p sent bytes, in bytes.
    [[nodiscard]] std::uint64_t replies(std::uint64_t sent) const {
        const std::uint64_t bigs =
            std::min<std::uint64_t>(sent, head_.size()) / request_line(big_reply).size();
        const std::uint64_t ones = sent > head_.size() ? (sent - head_.size()) / 2 : 0;
        return bigs * big_reply + ones;
    }

  private:
    std::string head_;
    std::string ones_;
};

std::string in_mib(std::uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / static_cast<double>(mib));
}

// The second part: flooders clients connect and are served once, then
// flood the server at once, each until the server stops reading it for
// 300 ms or flooder_limit; the server's memory must stay within
// growth_bound of what it was with them connected (or @p before, when that
// was more) all the while.
void flood_at_once(Context& ctx, const Flood& flood, std::uint64_t before) {
    const pid_t root = ctx.pid();
    struct Flooder {
        Connection conn;
        std::uint64_t sent = 0;
        Deadline::Clock::time_point progress;
        bool done = false;
    };
    const int capacity = ctx.lab().model == Model::single_process ? 1
                         : ctx.lab().workers > 0 ? std::min(ctx.lab().workers, flooders)
                                                 : flooders;
    std::vector<Flooder> all;
    for (int i = 0; i < flooders; ++i) {
        all.push_back({Connection::open(ctx.port(), Deadline(3s)), 0, Deadline::Clock::now()});
        // Served once first, so that what the design spends on a client (a
        // process, a thread) is in the baseline. An iterative server serves
        // only the first of them, a pool of N blocking workers the first N
        // (the others wait for a worker: their reply is not waited for).
        const std::string what = fmt::format("client {} of {}, before it floods", i + 1, flooders);
        all.back().conn.send_all(request_line(1), Deadline(3s), what);
        if (i < capacity) {
            expect_reply(ctx.reply(), all.back().conn, 1, Deadline(3s), what);
        }
    }
    std::this_thread::sleep_for(scaled(50ms));
    const std::uint64_t connected = procfs::tree_rss_bytes(root);
    before = std::max(before, connected);
    std::uint64_t peak = before;
    const auto total = [&] {
        std::uint64_t sum = 0;
        for (const auto& f : all) sum += f.sent;
        return sum;
    };
    const Deadline overall(20s);
    while (!overall.expired()) {
        bool moved = false;
        bool active = false;
        std::vector<pollfd> waiting;
        for (auto& f : all) {
            if (f.done) continue;
            const long n = f.conn.send_some(flood.next(f.sent));
            if (n < 0) {
                fail(
                    fmt::format("the server closed the connection of one of {} clients that "
                                "pipelined requests at once without reading the replies (after "
                                "{} of its requests)",
                                flooders, in_mib(f.sent)));
            }
            if (n > 0) {
                f.sent += static_cast<std::uint64_t>(n);
                f.progress = Deadline::Clock::now();
                moved = true;
            } else if (Deadline::Clock::now() - f.progress > scaled(300ms)) {
                f.done = true;  // the server stopped reading this one
            } else {
                waiting.push_back({f.conn.fd(), POLLOUT, 0});
            }
            if (f.sent >= flooder_limit) f.done = true;
            active = active || !f.done;
        }
        peak = std::max(peak, procfs::tree_rss_bytes(root));
        if (peak > before + flooders_bound) {
            const auto sent = total();
            all.clear();
            fail(fmt::format("{} clients at once sent {} of pipelined requests in all (each "
                             "asking for {} of replies and more) and read nothing; meanwhile "
                             "the server's memory (VmRSS of its processes, {} with the clients "
                             "connected) grew to {}: by more than the {} allowed ({} per "
                             "client). One such client alone stayed within its own bound: "
                             "whatever a client may make the server hold adds up over clients",
                             flooders, in_mib(sent), in_mib(big_requests * big_reply),
                             in_mib(before), in_mib(peak), in_mib(flooders_bound),
                             in_mib(per_flooder_bound)),
                 hint_text);
        }
        if (!active) break;
        if (!moved && !waiting.empty()) (void)::poll(waiting.data(), waiting.size(), 20);
    }
    ctx.log("{} clients at once sent {} of requests; RSS {} with them connected, peak {}", flooders,
            in_mib(total()), in_mib(before), in_mib(peak));
    ctx.require_running(
        fmt::format("after {} clients pipelined requests at once without reading", flooders));
    for (auto& f : all) f.conn.reset();
}

/// The slow reader's requests, its pace, and how long it goes on.
constexpr std::uint64_t slow_reply = 64 * 1024;
constexpr std::size_t slow_read_bytes = 64 * 1024;
constexpr auto slow_read_every = 5ms;
constexpr auto slow_window = 500ms;

// The third part: one client pipelines requests for 64 KiB replies as fast
// as the server takes them, and reads its replies, but slowly (64 KiB
// every 5 ms). A server that drains whatever the client sent before each
// reply (into a string of its own) holds every request the client had time
// to send; one that reads a request only when it needs the next one leaves
// them in the socket buffers, whose fill makes the client wait. For 0.5 s
// (scaled), or flood_limit sent, the memory must stay within
// flooders_bound of what it was with the client connected: one client's
// requests, which the contract caps at a few KiB. The client that never
// reads (the first part) cannot see this: a blocking server stops in its
// first write and drains nothing more.
void slow_reader_flood(Context& ctx) {
    const pid_t root = ctx.pid();
    Connection conn = Connection::open(ctx.port(), Deadline(3s));
    std::this_thread::sleep_for(scaled(50ms));
    const std::uint64_t before = procfs::tree_rss_bytes(root);
    std::string requests;
    for (int i = 0; i < 16 * 1024; ++i) requests += request_line(slow_reply);
    std::vector<char> sink(slow_read_bytes);
    std::uint64_t sent = 0;
    std::uint64_t read = 0;
    std::uint64_t peak = before;
    const Deadline window(scaled(slow_window));
    auto next_read = Deadline::Clock::now();
    while (!window.expired() && sent < flood_limit) {
        const long n = conn.send_some(std::string_view(requests).substr(sent % requests.size()));
        if (n < 0) {
            fail(
                fmt::format("the server closed the connection of a client that pipelined "
                            "requests for {} KiB and read its replies slowly (after {} of "
                            "requests)",
                            slow_reply / 1024, in_mib(sent)));
        }
        sent += static_cast<std::uint64_t>(std::max(n, 0L));
        if (Deadline::Clock::now() >= next_read) {
            const ssize_t got = ::recv(conn.fd(), sink.data(), sink.size(), MSG_DONTWAIT);
            if (got > 0) read += static_cast<std::uint64_t>(got);
            next_read = Deadline::Clock::now() + scaled(slow_read_every);
        }
        peak = std::max(peak, procfs::tree_rss_bytes(root));
        if (peak > before + flooders_bound) {
            conn.reset();
            fail(fmt::format("one client pipelined {} of requests for {} KiB replies and read "
                             "them slowly ({} KiB every {} ms; {} read); meanwhile the server's "
                             "memory (VmRSS of its processes) grew from {} to {}: by more than "
                             "the {} allowed. It read the requests far ahead of the replies",
                             in_mib(sent), slow_reply / 1024, slow_read_bytes / 1024,
                             slow_read_every.count(), in_mib(read), in_mib(before), in_mib(peak),
                             in_mib(flooders_bound)),
                 "read a request only when you are ready to serve it (a blocking server: the "
                 "next line when the reply is sent; an event loop: while wants_input()); "
                 "reading everything the client sent before each reply holds every request it "
                 "had time to send");
        }
        if (n <= 0) {
            pollfd p{conn.fd(), POLLOUT, 0};
            (void)::poll(&p, 1, 1);
        }
    }
    ctx.log("a slow reader sent {} of requests for {} KiB replies and read {}; RSS peak {}",
            in_mib(sent), slow_reply / 1024, in_mib(read), in_mib(peak));
    conn.reset();
}

// back-pressure: a client that never reads cannot make the server's memory grow.
void check_back_pressure(Context& ctx) {
    const pid_t root = ctx.pid();
    const std::uint64_t before = procfs::tree_rss_bytes(root);
    const Flood flood;
    Connection conn = Connection::open(ctx.port(), Deadline(3s));
    std::uint64_t sent = 0;
    std::uint64_t peak = before;
    auto progress = Deadline::Clock::now();
    const Deadline overall(20s);
    auto grown = [&] {
        peak = std::max(peak, procfs::tree_rss_bytes(root));
        return peak > before + growth_bound;
    };
    auto too_much = [&](const std::string& when) {
        conn.reset();
        fail(fmt::format("one client sent {} of pipelined requests (asking for {} of replies) "
                         "and read nothing; {} the server's memory (VmRSS of its processes) had "
                         "grown from {} to {}: by more than the {} allowed",
                         in_mib(sent), in_mib(flood.replies(sent)), when, in_mib(before),
                         in_mib(peak), in_mib(growth_bound)),
             hint_text);
    };
    ctx.log("flooding: RSS {} before", in_mib(before));
    // Send until the server stops taking requests (its buffers and ours are
    // full) for 300 ms, or until flood_limit; watch its memory meanwhile.
    while (sent < flood_limit && !overall.expired()) {
        const long n = conn.send_some(flood.next(sent));
        if (n < 0) {
            fail(
                "the server closed the connection of a client that pipelined requests without "
                "reading the replies (after " +
                in_mib(sent) + " of requests)");
        }
        if (n > 0) {
            sent += static_cast<std::uint64_t>(n);
            progress = Deadline::Clock::now();
        } else if (Deadline::Clock::now() - progress > scaled(300ms)) {
            break;  // the server stopped reading: back-pressure
        } else {
            pollfd p{conn.fd(), POLLOUT, 0};
            (void)::poll(&p, 1, 20);
        }
        if (grown()) too_much("meanwhile");
    }
    ctx.log("sent {} of requests; RSS peak {}", in_mib(sent), in_mib(peak));
    ctx.require_running("after a client pipelined requests without reading");
    const bool concurrent =
        std::ranges::find(ctx.lab().checks, "concurrency") != ctx.lab().checks.end();
    if (concurrent) {
        in_context(fmt::format("while a client that sent {} of requests read none of its replies, "
                               "client B asked for 4000 bytes; B must be served within 1 s",
                               in_mib(sent)),
                   [&] { fetch(ctx.reply(), ctx.port(), 4000, Deadline(1s), "request 4000"); });
    }
    std::this_thread::sleep_for(scaled(100ms));
    if (grown()) too_much("then");
    conn.reset();
    flood_at_once(ctx, flood, before);
    slow_reader_flood(ctx);
}

}  // namespace

CSD_CHECK(back_pressure) {
    return {"back-pressure",
            10,
            check_back_pressure,
            "a client pipelining requests for 400 MiB and more without reading grows the server's "
            "memory by less than 48 MiB; others are still served; 8 such clients at once grow "
            "it by less than 8 MiB (1 MiB each); a client that reads its replies slowly while "
            "it pipelines requests grows it by less than 8 MiB",
            "stop reading from a client while it has many requests waiting for their replies "
            "(csd::Session::wants_input()); never build a reply in memory",
            {"cpu"}};
}

}  // namespace csd::grade
