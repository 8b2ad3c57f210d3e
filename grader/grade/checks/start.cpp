// start: the runner starts the server; this check reports how that went.
// A lab that serves a file (sendfile) is also started with a file it
// cannot serve, missing or empty: it must refuse at start, exit with a
// non-zero status before `Listening on` (docs/contract.md section 6), not
// listen and fail at the first request.
#include <sys/wait.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "checks.hpp"
#include "launch.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "program.hpp"
#include "served_file.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The server started with `-f PATH` (a file it cannot serve, @p what) must
// exit by itself within 2 s with a non-zero status, without announcing.
void require_refuses_file(Context& ctx, const std::string& path, const std::string& what) {
    const std::uint16_t port = csd::launch::free_loopback_port();
    ProgramRun run(ctx.program(), {"-f", path, "-i", "127.0.0.1", "-p", std::to_string(port)});
    const auto status = run.wait(Deadline(2s));
    std::string out;
    while (const auto line = run.read_line(Deadline(0ms)).line) out += *line + "\n";
    const std::string how = fmt::format("started with -f {} ({})", path, what);
    const char* hint =
        "open the -f file and check its size at start, before you listen: a file that cannot be "
        "opened, or is empty, is a message on stderr and a non-zero exit status (docs/contract.md "
        "section 6, sendfile), not a server that fails at its first request";
    if (!status) {
        fail(fmt::format("{}, the server still ran 2 s later{}", how,
                         out.find("Listening on") != std::string::npos
                             ? ", and it printed `Listening on`"
                             : ""),
             hint);
    }
    if (out.find("Listening on") != std::string::npos) {
        fail(fmt::format("{}, the server printed `Listening on` before it {}", how,
                         describe_wait_status(*status)),
             hint);
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) == 0) {
        fail(fmt::format("{}, the server {}: expected an exit with a non-zero status", how,
                         describe_wait_status(*status)),
             hint);
    }
    ctx.log("{}: refused, {}", how, describe_wait_status(*status));
}

// Every socket the server's processes listen on is bound to the -i
// address it was given (127.0.0.1): a server bound to the wildcard address
// answers every network the machine is on.
void require_bound_as_asked(Context& ctx) {
    const auto& args = ctx.server().args();
    const auto i = std::find(args.begin(), args.end(), "-i");
    const std::string host = i != args.end() && i + 1 != args.end() ? *(i + 1) : "127.0.0.1";
    std::set<std::uint64_t> held;
    for (const pid_t pid : procfs::process_tree(ctx.pid())) {
        for (const auto& fd : procfs::open_fds(pid)) {
            if (const auto inode = procfs::socket_inode(fd.target)) held.insert(*inode);
        }
    }
    for (const auto& s : procfs::tcp_sockets()) {
        if (s.state != procfs::tcp_listen || !held.contains(s.inode)) continue;
        if (s.local_address == host || s.local_address == "::ffff:" + host) continue;
        fail(fmt::format("started with -i {}, the server listens on {}:{} too: reachable from "
                         "beyond what was asked",
                         host, s.local_address, s.local_port),
             "bind the listening socket to the address -i gives (127.0.0.1 by default), as "
             "csd::listen_tcp(options.host, ...) does: the wildcard address (0.0.0.0, ::) "
             "answers every network the machine is on");
    }
}

// start: accepted within 5 s and printed `Listening on 127.0.0.1:PORT`.
void check_start(Context& ctx) {
    const Readiness& r = ctx.first_start();
    if (!r.accepting || !r.announced) fail(r.problem);
    require_bound_as_asked(ctx);
    if (ctx.lab().reply == Reply::served_file) {
        const ServedFile empty(0);
        require_refuses_file(ctx, empty.path() + ".missing", "a file that does not exist");
        require_refuses_file(ctx, empty.path(), "an empty file");
        const std::string dir = empty.path().substr(0, empty.path().rfind('/'));
        require_refuses_file(ctx, dir, "a directory");
    }
}

}  // namespace

CSD_CHECK(start) {
    return {"start",
            5,
            check_start,
            "the server accepts within 5 s and prints `Listening on 127.0.0.1:PORT` on stdout; "
            "every socket it listens on is bound to 127.0.0.1, the -i given (sendfile: and it "
            "refuses, at start, a -f that is missing, empty or a directory)",
            "bind and listen first, then print exactly \"Listening on HOST:PORT\" with the -i and "
            "-p you were given, followed by a newline, and flush stdout (std::endl or fflush); "
            "logs go to stderr",
            {},
            Lifecycle::first};
}

}  // namespace csd::grade
