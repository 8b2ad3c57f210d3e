#include "client_run.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "command.hpp"
#include "process.hpp"
#include "timing.hpp"

namespace csd::grade {

void run_client(Context& ctx, const std::vector<std::string>& args,
                std::chrono::milliseconds timeout) {
    const std::string client = sibling_program("csd-client");
    if (::access(client.c_str(), X_OK) != 0) {
        fail(fmt::format("csd-client was not found next to csd-grade ({}); build the project's "
                         "client target",
                         client),
             "this is a problem of the installation, not of your server");
    }
    std::vector<std::string> argv = {client, "-i", "127.0.0.1", "-p", std::to_string(ctx.port())};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> shown = argv;
    shown.front() = "csd-client";
    ctx.log("running {}", command_text(shown));
    const CommandResult r = run_command(argv, timeout);
    ctx.log("csd-client took {:.2f} s", r.seconds);
    if (r.succeeded()) return;
    const std::string verdict =
        r.timed_out
            ? fmt::format("did not finish within {:g} s and was killed", scaled_seconds(timeout))
            : describe_wait_status(r.status);
    const std::string tail = tail_lines(r.output, 12);
    fail(fmt::format("`{}` {}{}{}", command_text(shown), verdict,
                     tail.empty() ? "" : "; its output ended with:\n", tail));
}

}  // namespace csd::grade
