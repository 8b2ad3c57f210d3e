// What the checks that attach strace share: a server that looks for its
// tracer (TracerPid, ptrace) to behave well only while it is watched fails.
#include <fmt/format.h>

#include "checks.hpp"
#include "trace.hpp"

namespace csd::grade {

void require_no_tracer_probe(Context& ctx, const std::string& trace) {
    const std::string probe = tracer_probe(trace, ctx.pid());
    if (probe.empty()) return;
    fail(fmt::format("while strace watched it, the server looked for its tracer: {}", probe),
         "behave the same whether or not you are watched: a server that reads its TracerPid "
         "(or calls ptrace) to do the lesson only under strace gets no points for what it "
         "showed");
}

}  // namespace csd::grade
