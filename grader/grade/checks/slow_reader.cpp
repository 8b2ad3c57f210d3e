// slow-reader: a client that does not read its reply must not block the others.
#include <thread>

#include "checks.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_slow_reader(Context& ctx) {
    Connection a = Connection::open(ctx.port(), Deadline(3s));
    a.send_all(request_line(64ULL << 20), Deadline(3s), "client A (64 MiB, never read)");
    std::this_thread::sleep_for(scaled(300ms));
    in_context(
        "client B asked for 4000 bytes 300 ms after client A asked for 64 MiB and "
        "stopped reading; B must be served within 1 s",
        [&] {
            const Deadline one_second(1s);
            Connection b = Connection::open(ctx.port(), one_second);
            b.send_all(request_line(4000), one_second, "request 4000");
            expect_reply(b, 4000, one_second, "request 4000");
        });
    a.reset();
}

}  // namespace csd::grade
