// load: csd-client with 5 processes x 200 connections of 4000 bytes.
#include "checks.hpp"
#include "client_run.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

void check_load(Context& ctx) {
    run_client(ctx, {"-c", "5", "-t", "200", "-b", "4000", "-q"}, 60s);
}

}  // namespace csd::grade
