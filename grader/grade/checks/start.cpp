// start: the runner starts the server; this check reports how that went.
#include "checks.hpp"

namespace csd::grade {

void check_start(Context& ctx) {
    const Readiness& r = ctx.first_start();
    if (!r.accepting || !r.announced) fail(r.problem);
}

}  // namespace csd::grade
