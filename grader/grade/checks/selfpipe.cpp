// The selfpipe lab's checks (docs/contract.md section 6, selfpipe): the
// program waits for stdin lines and SIGUSR1 at once, and answers SIGUSR1
// promptly wherever it lands, also inside the widened race window (-w).
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <random>
#include <thread>

#include "checks.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "program.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// How long the program may take to answer SIGUSR1 (scaled by Deadline).
constexpr auto answer_time = 100ms;
// After this long (scaled) without an answer, the program is taken to hang.
constexpr auto give_up_time = 1500ms;

// give_up_time in milliseconds once scaled, for messages.
double give_up_ms() {
    return scaled_seconds(give_up_time) * 1000;
}

// "the program `CMD` (run N) " for messages.
std::string who(const ProgramRun& run, std::string_view run_name) {
    return fmt::format("`{}`{}", run.command_line(),
                       run_name.empty() ? "" : fmt::format(" ({})", run_name));
}

// Reads the next line and requires it to be @p expected.
void expect_line(ProgramRun& run, std::string_view expected, Deadline deadline,
                 std::string_view run_name) {
    const LineResult got = run.read_line(deadline);
    if (got.line && *got.line == expected) return;
    const std::string saw = got.line  ? fmt::format("printed \"{}\"", *got.line)
                            : got.eof ? "closed its stdout: it " + run.describe()
                                      : "printed nothing more in time";
    fail(fmt::format("{} should print \"{}\" next, but {}; its stdout so far:\n{}",
                     who(run, run_name), expected, saw, run.output()));
}

// Waits for `ready`, the program's first line.
void expect_ready(ProgramRun& run, std::string_view run_name) {
    expect_line(run, "ready", Deadline(2s), run_name);
}

// After SIGUSR1 was sent: the program must print `got SIGUSR1` (after any
// `line: ...` lines) and exit with status 0 before @p deadline. @p
// when_sent says where the signal landed, for the message.
// Returns the milliseconds from @p sent until the program had exited.
double expect_answer(ProgramRun& run, Deadline::Clock::time_point sent, Deadline deadline,
                     std::string_view run_name, std::string_view when_sent, double allowed_ms) {
    const auto status = run.wait(deadline);
    const double took_ms = seconds_since(sent) * 1000;
    for (;;) {
        const LineResult got = run.read_line(Deadline(0ms));
        if (got.line && got.line->starts_with("line: ")) continue;
        if (got.line && *got.line == "got SIGUSR1" && status && *status == 0) {
            if (const auto more = run.read_line(Deadline(0ms)); more.line) {
                fail(fmt::format("{} printed \"{}\" after \"got SIGUSR1\"", who(run, run_name),
                                 *more.line));
            }
            return took_ms;
        }
        std::string saw;
        if (!status) {
            saw = fmt::format("had not exited {:.0f} ms after SIGUSR1{}", allowed_ms,
                              got.line ? fmt::format(" (it printed \"{}\")", *got.line) : "");
        } else if (got.line && *got.line != "got SIGUSR1") {
            saw = fmt::format("printed \"{}\" instead of \"got SIGUSR1\"", *got.line);
        } else if (!got.line) {
            saw = fmt::format("{} without printing \"got SIGUSR1\"", describe_wait_status(*status));
        } else {
            saw = fmt::format("printed \"got SIGUSR1\" but {}", run.describe());
        }
        fail(fmt::format("SIGUSR1 sent {}: {} {}; its stdout:\n{}", when_sent, who(run, run_name),
                         saw, run.output()));
    }
}

}  // namespace

void check_lines(Context& ctx) {
    ProgramRun run(ctx.program(), {});
    expect_ready(run, "");
    // Whole lines, a line in two writes, three lines in one write, an empty line.
    const std::vector<std::pair<std::string, std::vector<std::string>>> steps = {
        {"alpha\n", {"line: alpha"}},
        {"be", {}},
        {"ta\n", {"line: beta"}},
        {"one\ntwo\nthree\n", {"line: one", "line: two", "line: three"}},
        {"\n", {"line: "}},
    };
    for (const auto& [data, expected] : steps) {
        if (!run.write_stdin(data, Deadline(2s))) {
            fail(fmt::format("{} did not read its stdin; it {}", who(run, ""), run.describe()));
        }
        if (expected.empty()) std::this_thread::sleep_for(scaled(20ms));
        for (const auto& e : expected) expect_line(run, e, Deadline(2s), "");
    }
    run.close_stdin();
    expect_line(run, "end of input", Deadline(2s), "");
    const auto status = run.wait(Deadline(2s));
    if (!status || *status != 0) {
        fail(fmt::format("after \"end of input\", {} should exit with status 0, but it {}",
                         who(run, ""), run.describe()));
    }
}

void check_signals(Context& ctx) {
    constexpr int runs = 300;
    std::random_device seed_source;
    const auto seed = seed_source();
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> delay_us(0, 3000);
    std::uniform_int_distribution<int> kind(0, 2);
    ctx.log("{} runs, random seed {}", runs, seed);
    constexpr std::size_t max_late = 10;
    double worst_ms = 0;
    std::vector<std::string> late;
    for (int i = 1; i <= runs; ++i) {
        ProgramRun run(ctx.program(), {});
        const std::string name = fmt::format("run {} of {}", i, runs);
        expect_ready(run, name);
        // The signal lands while it waits, while it reads a line, or while it prints one.
        const int k = kind(random);
        std::string where = "while it waited";
        if (k > 0) {
            if (!run.write_stdin(fmt::format("request {}\n", i), Deadline(2s))) {
                fail(fmt::format("{} did not read its stdin; it {}", who(run, name),
                                 run.describe()));
            }
            where = "around a line it was given";
            if (k == 2) {
                expect_line(run, fmt::format("line: request {}", i), Deadline(2s), name);
                where = "after it printed a line";
            }
        }
        const int us = delay_us(random);
        std::this_thread::sleep_for(std::chrono::microseconds(us));
        const auto sent = Deadline::Clock::now();
        run.signal(SIGUSR1);
        const double ms =
            expect_answer(run, sent, Deadline(give_up_time), name,
                          fmt::format("{} {} us after that", where, us), give_up_ms());
        worst_ms = std::max(worst_ms, ms);
        if (ms > scaled_seconds(answer_time) * 1000) {
            late.push_back(fmt::format("{} ({}): {:.0f} ms", name, where, ms));
            if (late.size() > max_late) break;  // the verdict is known
        }
    }
    ctx.log("slowest answer: {:.1f} ms; {} late", worst_ms, late.size());
    // A few late answers are the machine's (another process had the CPU);
    // a program that polls, or does something slow first, is late every time.
    if (late.size() > max_late) {
        std::string list;
        for (std::size_t i = 0; i < late.size() && i < 5; ++i) list += "\n  " + late[i];
        fail(fmt::format(
            "{} runs answered SIGUSR1 later than {:.0f} ms (at most {} of {} may), the slowest "
            "after {:.0f} ms:{}",
            late.size(), scaled_seconds(answer_time) * 1000, max_late, runs, worst_ms, list));
    }
}

void check_race_window(Context& ctx) {
    // The program sleeps `window` between its look at the flag and its wait;
    // the signal lands early in that sleep, every time.
    const auto window = std::chrono::duration_cast<std::chrono::microseconds>(scaled(200ms));
    const std::vector<std::string> args = {"-w", std::to_string(window.count())};
    constexpr int runs = 6;
    std::vector<std::string> late;
    for (int i = 1; i <= runs; ++i) {
        ProgramRun run(ctx.program(), args);
        const std::string name = fmt::format("run {} of {}", i, runs);
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
    // Promptness is for signals and race-window: here it must only answer.
    const auto sent = Deadline::Clock::now();
    run.signal(SIGUSR1);
    const double ms =
        expect_answer(run, sent, Deadline(give_up_time), "", "after 1 s of idling", give_up_ms());
    ctx.log("answered in {:.1f} ms", ms);
}

CSD_CHECK(lines) {
    return {"lines", 10, check_lines,
            "every stdin line comes back as `line: TEXT` (also lines in pieces), then `end of "
            "input` and exit status 0 at EOF",
            "keep the bytes of an unfinished line until its \\n arrives; print and flush one line "
            "per line read (docs/contract.md section 6)"};
}

CSD_CHECK(signals) {
    return {"signals",
            10,
            check_signals,
            "300 fresh runs, SIGUSR1 at a random moment each: `got SIGUSR1` and exit status 0 "
            "within 100 ms (all but 10 runs) and 1.5 s (every run)",
            "the handler only writes a byte to the self-pipe; select() watches stdin and the "
            "pipe's read end; when the pipe is readable print \"got SIGUSR1\", flush and return 0",
            {"cpu"}};
}

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

CSD_CHECK(idle_wakeups) {
    return {"idle-wakeups",
            10,
            check_idle_wakeups,
            "idle for 1 s, the program wakes up at most 3 times, then still answers SIGUSR1",
            "block in select() with no timeout (a null timeout pointer): a timeout that lets you "
            "look at the flag now and then wakes the program up for nothing and still answers late",
            {"cpu"}};
}

}  // namespace csd::grade
