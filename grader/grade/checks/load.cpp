// load: csd-client with 5 processes x 200 connections of 4000 bytes.
#include "checks.hpp"
#include "client_run.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// load: csd-client with 5 children x 200 connections.
void check_load(Context& ctx) {
    // A correct server needs a few seconds at most (more under a sanitizer);
    // one that hangs costs this check 30 s, not the whole run.
    run_client(
        ctx, {"-c", "5", "-t", "200", "-b", "4000", "--timeout", scaled_seconds_arg(5), "-q"}, 30s);
}

}  // namespace

CSD_CHECK(load) {
    return {"load",
            10,
            check_load,
            "csd-client: 5 processes x 200 connections of 4000 bytes",
            "run the same csd-client command yourself (see saw:) against your server to "
            "reproduce; look at your server's stderr",
            {"connections", "cpu"}};
}

}  // namespace csd::grade
