// race-window (selfpipe lab, docs/contract.md section 6, selfpipe):
// SIGUSR1 sent inside the widened race window (-w: after the program looked
// at its flag, before it waits) is still answered at once, in each of the
// program's modes; the window is checked to be real.
#include <fmt/format.h>
#include <signal.h>

#include <thread>

#include "checks.hpp"
#include "program.hpp"
#include "selfpipe_runs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace selfpipe;

namespace {

// race-window (selfpipe): SIGUSR1 inside the -w window is still answered.
void check_race_window(Context& ctx) {
    // The program sleeps `window` between its look at the flag and its wait;
    // the signal lands early in that sleep, every time.
    const auto window = std::chrono::duration_cast<std::chrono::microseconds>(scaled(200ms));
    const std::vector<std::string> args = {"-w", std::to_string(window.count())};
    constexpr int runs = 6;
    std::vector<std::string> late;
    // The runs take the program's modes in turn (labs/labs.txt): each
    // race-free way is tested, after `ready` and after a line.
    const auto& modes = ctx.lab().modes;
    for (int i = 1; i <= runs; ++i) {
        std::vector<std::string> run_args = args;
        std::string in_mode;
        if (!modes.empty()) {
            const std::size_t m = static_cast<std::size_t>(i - 1) % modes.size();
            if (m > 0) {
                for (const auto a : modes[m].args) run_args.emplace_back(a);
            }
            in_mode = fmt::format(", mode {}", modes[m].name);
        }
        ProgramRun run(ctx.program(), run_args);
        const std::string name = fmt::format("run {} of {}{}", i, runs, in_mode);
        expect_ready(run, name);
        std::string where = "20 ms after it printed \"ready\"";
        if (i % 2 == 0) {
            if (!run.write_stdin("x\n", Deadline(2s))) {
                fail(fmt::format("{} did not read its stdin; it {}", who(run, name),
                                 run.describe()));
            }
            expect_line(run, "line: x", Deadline(2s), name);
            // The window is real: after a line the program looks at its
            // flag, then sleeps -w before it waits again, so the next line,
            // sent at once, is read no earlier than the window's end. A
            // program that ignores -w answers it at once (and has no race
            // window to prove anything about).
            const auto wrote = Deadline::Clock::now();
            if (!run.write_stdin("y\n", Deadline(2s))) {
                fail(fmt::format("{} did not read its stdin; it {}", who(run, name),
                                 run.describe()));
            }
            expect_line(run, "line: y", Deadline(2s), name);
            const double took_ms = seconds_since(wrote) * 1000;
            const double window_ms = static_cast<double>(window.count()) / 1000;
            if (took_ms < window_ms / 2) {
                fail(fmt::format("{} printed \"line: y\" {:.0f} ms after it was sent, right "
                                 "after \"line: x\": with -w {} it should sleep {:.0f} ms between "
                                 "its look at the flag and its wait, so no line is read sooner",
                                 who(run, name), took_ms, window.count(), window_ms),
                     "-w MICROSECONDS is the race window: every time round the loop, after the "
                     "last look at the flag and right before select(), sleep that long with "
                     "nanosleep (docs/contract.md section 6)");
            }
            where = "20 ms after it printed \"line: y\"";
        }
        std::this_thread::sleep_for(scaled(20ms));
        const auto sent = Deadline::Clock::now();
        run.signal(SIGUSR1);
        // The rest of the window, then the usual answer time; one late run
        // of six may be the machine's.
        const double ms = expect_answer(run, sent, Deadline(give_up_time), name,
                                        where + ", inside the -w window", give_up_ms());
        if (ms > scaled_seconds(180ms + answer_time) * 1000) {
            late.push_back(fmt::format("{}: {:.0f} ms ({})", name, ms, where));
        }
    }
    if (late.size() > 1) {
        std::string list;
        for (const auto& l : late) list += "\n  " + l;
        fail(fmt::format(
            "with -w {}, {} of {} runs answered SIGUSR1 later than {:.0f} ms after "
            "the window ended:{}",
            window.count(), late.size(), runs, scaled_seconds(answer_time) * 1000, list));
    }
}

}  // namespace

CSD_CHECK(race_window) {
    return {
        "race-window",
        10,
        check_race_window,
        "SIGUSR1 sent inside the -w window (after the flag was checked, before select) is still "
        "answered at once",
        "a flag checked before select() misses a signal that comes between the check and the "
        "call: select() then sleeps forever. Let the signal make a descriptor readable (the "
        "self-pipe), so select() returns even when the signal came before it",
        {"cpu"}};
}

}  // namespace csd::grade
