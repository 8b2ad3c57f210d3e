// The table of hidden checks (hidden.hpp): which lab each joins, before which
// check, and for how many points.
#include "hidden_checks.hpp"

#include "hidden.hpp"

namespace csd::grade {

namespace {

CheckInfo bytes_hidden() {
    return {"bytes-hidden",
            10,
            check_bytes_hidden,
            "exact replies for sizes the public checks do not use (a test set of its own), one "
            "per connection, then pipelined",
            "send exactly N bytes for every valid N, not only for the sizes of the public "
            "checks",
            {"cpu"}};
}

}  // namespace

const std::vector<HiddenCheck>& hidden_checks() {
    // Right after the public bytes check. The protocol is the lesson of
    // iterative (10 points); in the later labs a protocol check is worth a
    // few points (5 here).
    static const std::vector<HiddenCheck> table = {
        {.lab = "iterative", .before = "pipeline", .points = 10, .check = bytes_hidden()},
        {.lab = "fork", .before = "pipeline", .points = 5, .check = bytes_hidden()},
        {.lab = "poll", .before = "pipeline", .points = 5, .check = bytes_hidden()},
    };
    return table;
}

}  // namespace csd::grade
