// What the checks that attach strace share: a server (or a lab program)
// that looks for its tracer (TracerPid, ptrace) to behave well only while
// it is watched fails.
#include <fmt/format.h>

#include "checks.hpp"
#include "trace.hpp"

namespace csd::grade {

void require_no_tracer_probe(Context& ctx, const std::string& trace) {
    require_no_tracer_probe(trace, ctx.pid(), "the server");
}

void require_no_tracer_probe(const std::string& trace, pid_t root, std::string_view who) {
    const std::string probe = tracer_probe(trace, root);
    if (probe.empty()) return;
    fail(fmt::format("while strace watched it, {} looked for its tracer: {}", who, probe),
         "behave the same whether or not you are watched: code that reads its TracerPid (or "
         "calls ptrace) to do the lesson only under strace gets no points for what it showed");
}

}  // namespace csd::grade
