// idle-wakeups (selfpipe lab, docs/contract.md section 6, selfpipe): idle,
// the program sleeps until something happens (no timeout polling, seen in
// its voluntary context switches), then still answers SIGUSR1.
#include <fmt/format.h>
#include <signal.h>

#include <thread>

#include "checks.hpp"
#include "procfs.hpp"
#include "program.hpp"
#include "selfpipe_runs.hpp"
#include "waits.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace selfpipe;

namespace {

// idle-wakeups (selfpipe): idle, the program does not wake up (no timeout polling).
void check_idle_wakeups(Context& ctx) {
    ProgramRun run(ctx.program(), {});
    expect_ready(run, "");
    std::this_thread::sleep_for(scaled(50ms));
    const auto before = procfs::voluntary_switches(run.pid());
    const auto start = Deadline::Clock::now();
    // Not scaled: a slower machine does not make a waiting program wake up.
    std::this_thread::sleep_for(1s);
    const auto after = procfs::voluntary_switches(run.pid());
    const double wall = seconds_since(start);
    if (!before || !after) {
        fail(fmt::format("{} ended while it had nothing to do: it {}", who(run, ""),
                         run.describe()));
    }
    const auto wakeups = *after - *before;
    ctx.log("{} wakeups in {:.2f} s idle", wakeups, wall);
    if (wakeups > 3) {
        fail(
            fmt::format("{} woke up {} times in {:.2f} s with no input and no signal (seen in "
                        "voluntary_ctxt_switches of /proc/{}/status): it polls with a timeout",
                        who(run, ""), wakeups, wall, run.pid()));
    }
    // What it waits in, idle: no timeout, however long (a wait that ends by
    // itself is a timer loop at a pace the count above may not catch).
    const waits::TaskWait w = waits::wait_of(run.pid(), run.pid());
    ctx.log("idle, it waits in {}{}", w.text(), w.timeout.empty() ? "" : " with " + w.timeout);
    if (!w.timeout.empty()) {
        fail(fmt::format("{} waits, idle, in {} with {} (/proc/{}/syscall): it wakes up by "
                         "itself to look again, a timer loop however long",
                         who(run, ""), w.call, w.timeout, run.pid()),
             "block in select() with no timeout (a null timeout pointer): the self-pipe wakes "
             "it for the signal, stdin for a line; nothing else needs a wakeup");
    }
    // Promptness is for signals and race-window: here it must only answer.
    const auto sent = Deadline::Clock::now();
    run.signal(SIGUSR1);
    const double ms =
        expect_answer(run, sent, Deadline(give_up_time), "", "after 1 s of idling", give_up_ms());
    ctx.log("answered in {:.1f} ms", ms);
}

}  // namespace

CSD_CHECK(idle_wakeups) {
    return {"idle-wakeups",
            10,
            check_idle_wakeups,
            "idle for 1 s, the program wakes up at most 3 times and waits with no timeout "
            "(/proc/PID/syscall), then still answers SIGUSR1",
            "block in select() with no timeout (a null timeout pointer): a timeout that lets you "
            "look at the flag now and then wakes the program up for nothing and still answers late",
            {"cpu"}};
}

}  // namespace csd::grade
