#include "expect.hpp"

#include <fmt/format.h>

#include <poll.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "csd/protocol.hpp"
#include "failure.hpp"

namespace csd::grade {
namespace {

std::string char_text(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return fmt::format("'{}' (0x{:02x})", c, u);
    return fmt::format("0x{:02x}", u);
}

[[noreturn]] void reply_failed(ReplyProblem problem, const std::string& saw) {
    throw ReplyFailed(saw, problem);
}

}  // namespace

void expect_reply(const ReplyFormat& format, Connection& conn, std::uint64_t n, Deadline deadline,
                  std::string_view what, std::uint64_t pause_at) {
    expect_reply(format, conn, n, deadline, what, Reading{.pause_at = pause_at});
}

void expect_reply(const ReplyFormat& format, Connection& conn, std::uint64_t n, Deadline deadline,
                  std::string_view what, const Reading& how) {
    if (format.header_line()) expect_header_line(conn, n, deadline, what);
    const auto start = Deadline::Clock::now();
    std::vector<char> buf(how.piece > 0 ? how.piece : 256 * 1024);
    std::uint64_t got = 0;
    bool paused = how.pause_at == 0;
    while (got < n) {
        if (!paused && got >= how.pause_at) {
            std::this_thread::sleep_for(scaled(how.pause));
            paused = true;
        }
        const std::uint64_t until = paused ? n : how.pause_at;
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), until - got));
        const ReadResult r = conn.read_some(buf.data(), want, deadline);
        switch (r.status) {
            case ReadStatus::data: {
                const std::string_view chunk(buf.data(), r.bytes);
                const std::size_t bad = format.mismatch(chunk, got);
                if (bad < chunk.size()) {
                    reply_failed(
                        ReplyProblem::wrong_byte,
                        fmt::format("{}: reply byte {} is {}, expected {} (the first {} bytes "
                                    "were right)",
                                    what, got + bad, char_text(chunk[bad]),
                                    char_text(format.byte(got + bad)), got + bad));
                }
                got += r.bytes;
                if (how.gap.count() > 0 && got < n) std::this_thread::sleep_for(scaled(how.gap));
                break;
            }
            case ReadStatus::eof:
                reply_failed(
                    ReplyProblem::closed,
                    fmt::format("{}: the server closed the connection after {} of {} reply "
                                "bytes",
                                what, got, n));
            case ReadStatus::reset:
                reply_failed(
                    ReplyProblem::reset,
                    fmt::format("{}: the server reset the connection after {} of {} reply bytes",
                                what, got, n));
            case ReadStatus::timeout:
                reply_failed(ReplyProblem::stalled,
                             fmt::format("{}: got {} of {} reply bytes, then nothing more (waited "
                                         "{:.1f} s)",
                                         what, got, n, seconds_since(start)));
            case ReadStatus::error:
                reply_failed(ReplyProblem::error,
                             fmt::format("{}: read failed after {} of {} reply bytes: {}", what,
                                         got, n, std::strerror(r.error)));
        }
    }
}

Closing wait_closed(Connection& conn, Deadline deadline) {
    Closing c;
    char buf[64 * 1024];
    for (;;) {
        const ReadResult r = conn.read_some(buf, sizeof buf, deadline);
        if (r.status != ReadStatus::data) {
            c.how = r.status;
            return c;
        }
        if (c.first.size() < 64) c.first.append(buf, std::min<std::size_t>(r.bytes, 64));
        c.extra += r.bytes;
    }
}

void expect_closed(Connection& conn, Deadline deadline, std::string_view after) {
    const auto start = Deadline::Clock::now();
    const Closing c = wait_closed(conn, deadline);
    if (c.extra > 0) {
        fail(fmt::format("{}: expected no more bytes, got {} bytes: {}", after, c.extra,
                         quote(c.first)));
    }
    if (c.how == ReadStatus::timeout) {
        fail(fmt::format("{}: the server did not close the connection (waited {:.1f} s)", after,
                         seconds_since(start)));
    }
}

void fetch(const ReplyFormat& format, std::uint16_t port, std::uint64_t n, Deadline deadline,
           std::string_view what) {
    Connection conn = Connection::open(port, deadline);
    conn.send_all(request_line(n), deadline, what);
    expect_reply(format, conn, n, deadline, what);
}

void expect_header_line(Connection& conn, std::uint64_t n, Deadline deadline,
                        std::string_view what) {
    const std::string want = std::to_string(n) + "\n";
    const std::string hint =
        "each reply starts with a header line: N in decimal, without leading zeros, then "
        "'\\n'; then come the N bytes";
    std::string got;
    while (got.size() < want.size()) {
        char c = 0;
        const ReadResult r = conn.read_some(&c, 1, deadline);
        if (r.status != ReadStatus::data) {
            const char* end = r.status == ReadStatus::eof       ? "EOF"
                              : r.status == ReadStatus::reset   ? "a reset"
                              : r.status == ReadStatus::timeout ? "nothing more"
                                                                : "a read error";
            throw CheckFailed(fmt::format("{}: the header line {} was expected, got {} then {}",
                                          what, quote(want), quote(got), end),
                              hint);
        }
        got += c;
        if (got.back() != want[got.size() - 1]) {
            throw CheckFailed(fmt::format("{}: the header line {} was expected, got {}", what,
                                          quote(want), quote(got)),
                              hint);
        }
    }
}

void expect_replies_together(const ReplyFormat& format, std::vector<Connection>& conns,
                             const std::vector<std::uint64_t>& sizes, Deadline deadline,
                             std::string_view what, const std::function<void()>& tick,
                             const std::function<void(const Connection&)>& complete) {
    using namespace std::chrono_literals;
    // Bytes read on each connection so far, its header line's included.
    std::vector<std::uint64_t> got(conns.size(), 0);
    std::vector<std::string> headers(conns.size());
    std::vector<std::uint64_t> totals(conns.size());
    for (std::size_t i = 0; i < conns.size(); ++i) {
        if (format.header_line()) headers[i] = fmt::format("{}\n", sizes[i]);
        totals[i] = headers[i].size() + sizes[i];
    }
    std::vector<char> buf(64 * 1024);
    auto next_tick = Deadline::Clock::now();
    for (;;) {
        if (Deadline::Clock::now() >= next_tick) {
            tick();
            next_tick = Deadline::Clock::now() + 20ms;
        }
        std::vector<pollfd> fds;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < conns.size(); ++i) {
            if (got[i] < totals[i]) {
                fds.push_back({conns[i].fd(), POLLIN, 0});
                index.push_back(i);
            }
        }
        if (fds.empty()) return;
        if (deadline.expired()) {
            std::uint64_t missing = 0;
            for (std::size_t i : index) missing += totals[i] - got[i];
            fail(
                fmt::format("{}: {} of {} replies were incomplete at the deadline ({} bytes "
                            "missing)",
                            what, fds.size(), conns.size(), missing));
        }
        const int n = ::poll(fds.data(), fds.size(), std::min(deadline.poll_ms(), 20));
        if (n <= 0) continue;
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents == 0) continue;
            const std::size_t i = index[k];
            const auto want =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), totals[i] - got[i]));
            const ReadResult r = conns[i].read_some(buf.data(), want, Deadline(0ms));
            const std::string label =
                fmt::format("{}, connection {} (request {})", what, i + 1, sizes[i]);
            if (r.status == ReadStatus::data) {
                std::string_view chunk(buf.data(), r.bytes);
                for (; !chunk.empty() && got[i] < headers[i].size(); ++got[i]) {
                    if (chunk.front() != headers[i][got[i]]) {
                        fail(
                            fmt::format("{}: the header line \"{}\\n\" was expected, byte {} "
                                        "is {}",
                                        label, sizes[i], got[i], char_text(chunk.front())));
                    }
                    chunk.remove_prefix(1);
                }
                const std::uint64_t body_at = got[i] - headers[i].size();
                const std::size_t bad = format.mismatch(chunk, body_at);
                if (bad < chunk.size()) {
                    fail(fmt::format("{}: reply byte {} is {}, expected {}", label, body_at + bad,
                                     char_text(chunk[bad]), char_text(format.byte(body_at + bad))));
                }
                got[i] += chunk.size();
                if (got[i] == totals[i]) {
                    if (complete) complete(conns[i]);
                    conns[i].close();  // an iterative server moves on
                }
            } else if (r.status != ReadStatus::timeout) {
                fail(fmt::format("{}: the server {} the connection after {} of {} reply bytes",
                                 label, r.status == ReadStatus::eof ? "closed" : "reset", got[i],
                                 totals[i]));
            }
        }
    }
}

}  // namespace csd::grade
