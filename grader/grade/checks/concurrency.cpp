// concurrency: a client holding half a request must not delay another one.
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// concurrency: a client with half a request does not block another.
void check_concurrency(Context& ctx) {
    Connection a = Connection::open(ctx.port(), Deadline(3s));
    a.set_nodelay();
    a.send_all("40", Deadline(3s), "client A (half a request, \"40\")");
    std::this_thread::sleep_for(scaled(100ms));
    in_context(
        "client B asked for 4000 bytes while client A had sent only \"40\" (half a "
        "request) and waited; B must be served within 1 s",
        [&] {
            const Deadline one_second(1s);
            Connection b = Connection::open(ctx.port(), one_second);
            b.send_all(request_line(4000), one_second, "request 4000");
            expect_reply(ctx.reply(), b, 4000, one_second, "request 4000");
        });
}

}  // namespace

CSD_CHECK(concurrency) {
    return {"concurrency",
            10,
            check_concurrency,
            "a client that sent half a request does not delay another client",
            "never wait for one client while others are waiting: a client that sent half a line "
            "must not stop the server from accepting and serving the next one",
            {"cpu"}};
}

}  // namespace csd::grade
