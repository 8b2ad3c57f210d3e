// Which thread reads and writes each held connection, seen with strace -f
// (io_threads.hpp).
#include "io_threads.hpp"

#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "request_wakeups.hpp"
#include "strace_text.hpp"
#include "timing.hpp"
#include "trace.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

std::optional<IoThreads> io_threads(Context& ctx, std::vector<Connection>& held) {
    std::map<int, std::size_t> conn_of_fd;  // the server's fd -> index in held
    for (std::size_t k = 0; k < held.size(); ++k) {
        if (const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), held[k].local_port())) {
            conn_of_fd[*fd] = k;
        }
    }
    Strace trace(ctx.pid(), std::string("read,readv,recvfrom,recvmsg,write,writev,sendto,sendmsg,"
                                        "io_uring_enter") +
                                tracer_probe_calls);
    if (!trace.attached()) {
        ctx.log("which thread reads and writes each connection not checked: {}", trace.why_not());
        return std::nullopt;
    }
    const auto before = switches_by_thread(ctx.pid());
    std::map<pid_t, std::uint64_t> woke;
    try {
        const Deadline overall(20s);
        for (auto& c : held) c.send_all(request_line(100), overall.within(3s), "one more request");
        for (auto& c : held) {
            expect_reply(ctx.reply(), c, 100, overall.within(5s), "one more request, under strace");
        }
        // The threads that served them go back to sleep (and count a switch).
        std::this_thread::sleep_for(scaled(50ms));
        woke = switches_growth(before, switches_by_thread(ctx.pid()));
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    IoThreads io;
    io.woke = std::move(woke);
    for (const auto& call : parse_strace(text)) {
        const pid_t tid = call.pid != 0 ? static_cast<pid_t>(call.pid) : ctx.pid();
        if (call.name == "io_uring_enter") {
            const auto args = call.arguments();  // fd, to_submit, min_complete, flags...
            if (args.size() >= 2 && args[1] != "0") io.ring_submitters.insert(tid);
            continue;
        }
        const auto it = conn_of_fd.find(call.fd());
        if (it == conn_of_fd.end() || !call.succeeded() || call.value.value_or(0) <= 0) continue;
        io.served[tid].insert(it->second);
    }
    return io;
}

}  // namespace csd::grade
