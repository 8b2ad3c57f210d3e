// One turn of an event loop writes at most a budget to one client.
#include "bounded_turns.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "checks.hpp"
#include "expect.hpp"
#include "strace_text.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void require_bounded_turns(Context& ctx, const std::string& label, const std::string& hint,
                           std::uint64_t max_turn) {
    constexpr std::uint64_t size = 128u << 20;
    Strace trace(ctx.pid(), std::string("epoll_wait,epoll_pwait,epoll_pwait2,write,writev,send,"
                                        "sendto,sendmsg,sendfile") +
                                tracer_probe_calls);
    if (!trace.attached()) {
        ctx.log("{}: the bytes per turn not checked: {}", label, trace.why_not());
        return;
    }
    const std::string what = fmt::format("{}: one client reading {} MiB fast", label, size >> 20);
    try {
        Connection conn = Connection::open(ctx.port(), Deadline(3s));
        conn.send_all(request_line(size), Deadline(3s), what);
        expect_reply(ctx.reply(), conn, size, Deadline(60s), what);
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    std::map<int, std::uint64_t> this_turn;  // bytes per client fd since the last wait
    std::uint64_t most = 0;
    int turns = 0;
    for (const StraceCall& c : parse_strace(text)) {
        if (c.name.starts_with("epoll_")) {
            this_turn.clear();
            ++turns;
        } else if ((is_output_call(c.name) || c.name == "sendfile") && c.fd() > 2 && c.value &&
                   *c.value > 0) {
            most = std::max(most, this_turn[c.fd()] += static_cast<std::uint64_t>(*c.value));
        }
    }
    ctx.log("{}: at most {} bytes to one client in one turn ({} waits)", label, most, turns);
    // No epoll wait at all: not an event loop, which other checks judge
    // (syscall); turns cannot be told apart.
    if (turns == 0) return;
    if (most > max_turn) {
        fail(fmt::format("{}: while one client read {} MiB as fast as it could, the server wrote "
                         "{} MiB to it between two waits (strace): a turn with no write "
                         "budget, and every other client waits meanwhile",
                         label, size >> 20, most >> 20),
             hint +
                 "; give each connection at most a budget per turn, and come back to it "
                 "(without a new edge) while it has more to send");
    }
}

}  // namespace csd::grade
