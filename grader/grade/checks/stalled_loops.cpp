// stalled-loops (lab reactor): -n - 1 clients that never read a 64 MiB
// reply (through a narrow window) do not stop 2 x -n clients after them,
// one after another, from being served: no loop waits for one client.
#include <fmt/format.h>

#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "reactor_loops.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace reactor;

namespace {

// stalled-loops (reactor): -n - 1 clients that never read a 64 MiB reply do not stop 2 x -n
// clients after them, one after another, from being served.
void check_stalled_loops(Context& ctx) {
    const int n = loops_of(ctx);
    (void)require_loops(ctx, n, "idle, before any client");
    const Deadline overall(30s);
    // n - 1 clients ask for 64 MiB each through a narrow window and never
    // read: each reply fills the socket buffers of its loop's connection.
    std::vector<Connection> stalled;
    for (int i = 1; i < n; ++i) {
        stalled.push_back(Connection::open(ctx.port(), overall.within(3s), Window::narrow));
        stalled.back().send_all(request_line(64ULL << 20), overall.within(3s),
                                "a client that never reads");
    }
    std::this_thread::sleep_for(scaled(300ms));
    // Then 2n clients, one after another: the connections go to every loop,
    // the ones that serve a stalled client too.
    for (int i = 1; i <= 2 * n; ++i) {
        const std::string label = fmt::format(
            "client {} of {}, one after another, while {} clients leave their 64 MiB "
            "replies unread",
            i, 2 * n, n - 1);
        try {
            fetch(ctx.reply(), ctx.port(), 4000, Deadline(2s), label);
        } catch (const CheckFailed& e) {
            fail(e.what(),
                 "a loop never waits for one client: non-blocking sockets, write what fits, "
                 "keep your position, and watch EPOLLOUT only while something is owed; a loop "
                 "that blocks in write() stops every client it serves");
        }
    }
    for (auto& c : stalled) c.reset();
}

}  // namespace

CSD_CHECK(stalled_loops) {
    return {
        "stalled-loops",
        10,
        check_stalled_loops,
        "reactor: -n - 1 clients leave a 64 MiB reply unread (narrow window); 2 x -n clients "
        "after them, one after another, are each served within 2 s",
        "a loop never waits for one client: non-blocking sockets, write what fits, keep your "
        "position, watch EPOLLOUT only while something is owed; a loop blocked in write() stops "
        "every client it serves",
        {"cpu"}};
}

}  // namespace csd::grade
