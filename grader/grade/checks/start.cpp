// start: the runner starts the server; this check reports how that went.
#include "checks.hpp"

namespace csd::grade {

namespace {

// start: accepted within 5 s and printed `Listening on 127.0.0.1:PORT`.
void check_start(Context& ctx) {
    const Readiness& r = ctx.first_start();
    if (!r.accepting || !r.announced) fail(r.problem);
}

}  // namespace

CSD_CHECK(start) {
    return {"start",
            5,
            check_start,
            "the server accepts within 5 s and prints `Listening on 127.0.0.1:PORT` on stdout",
            "bind and listen first, then print exactly \"Listening on HOST:PORT\" with the -i and "
            "-p you were given, followed by a newline, and flush stdout (std::endl or fflush); "
            "logs go to stderr",
            {},
            Lifecycle::first};
}

}  // namespace csd::grade
