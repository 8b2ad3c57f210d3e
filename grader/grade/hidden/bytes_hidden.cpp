// bytes-hidden: the bytes check with a test set the students never see.
// The public checks ask for fixed sizes (bytes: 1, 26, 4000, 64 KiB, 4 MiB,
// 16 MiB, 1 GiB; pipeline: a few small ones), which a server can get right
// by accident, e.g. a reply sent in whole 1 MiB blocks with the remainder
// dropped passes them all, since every public size above 1 MiB is a multiple
// of it. This check draws its sizes from its own seed: small, medium and
// large ones, of any remainder; each on its own connection, then all of them
// pipelined on one connection that is half-closed at once.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "checks/checks.hpp"
#include "expect.hpp"
#include "hidden_checks.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Change it (each term): the sizes change with it, and the broken server
// test (broken.fork.bytes-hidden.*) still proves the check.
constexpr std::uint64_t seed = 0x5eed'2026'1127ULL;

// Sizes drawn log-uniformly from [lo, hi].
void draw(std::mt19937_64& rng, std::vector<std::uint64_t>& out, int count, std::uint64_t lo,
          std::uint64_t hi) {
    std::uniform_real_distribution<double> exponent(std::log2(static_cast<double>(lo)),
                                                    std::log2(static_cast<double>(hi)));
    for (int i = 0; i < count; ++i) {
        auto n = static_cast<std::uint64_t>(std::exp2(exponent(rng)));
        // Not a multiple of 26 nor of 4 KiB: a server that gets the alphabet
        // right only for whole cycles or whole pages shows it.
        if (n % 26 == 0 || n % 4096 == 0) ++n;
        out.push_back(std::clamp(n, lo, hi));
    }
}

std::vector<std::uint64_t> hidden_sizes() {
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> sizes;
    draw(rng, sizes, 3, 2, 60000);                   // below one socket buffer
    draw(rng, sizes, 2, 60001, 1U << 20);            // a few socket buffers
    draw(rng, sizes, 3, (1U << 20) + 1, 40U << 20);  // many, and past 1 MiB
    return sizes;
}

const char* const hint =
    "send exactly N bytes for every N from 1 to 1073741824, not only for the sizes the public "
    "checks ask for: loop until the whole reply is sent, keep your position across short "
    "writes, and count byte i of each reply from that reply's start ('a' + i % 26)";

// expect_lab_reply() with this check's hint.
void expect_sized(Context& ctx, Connection& conn, std::uint64_t n, Deadline deadline,
                  const std::string& what) {
    try {
        expect_reply(ctx.reply(), conn, n, deadline, what);
    } catch (const CheckFailed& e) {
        throw CheckFailed(e.what(), hint);
    }
}

}  // namespace

void check_bytes_hidden(Context& ctx) {
    const Deadline overall(60s);
    const std::vector<std::uint64_t> sizes = hidden_sizes();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::string what = fmt::format("connection {}, request \"{}\\n\"", i + 1, sizes[i]);
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(sizes[i]), overall.within(3s), what);
        expect_sized(ctx, conn, sizes[i], overall.within(10s), what);
        conn.shutdown_write();
        expect_closed(conn, overall.within(2s), what + ", after the reply and a half-close");
    }
    std::string all;
    for (const auto n : sizes) all += request_line(n);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    conn.send_all(all, overall.within(3s), "the pipelined connection");
    conn.shutdown_write();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::string what =
            fmt::format("connection {}, {} requests pipelined then half-closed, reply {} (N = {})",
                        sizes.size() + 1, sizes.size(), i + 1, sizes[i]);
        expect_sized(ctx, conn, sizes[i], overall.within(10s), what);
    }
    expect_closed(conn, overall.within(2s), "the pipelined connection, after every reply");
}

}  // namespace csd::grade
