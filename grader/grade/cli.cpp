#include "cli.hpp"

#include <CLI/CLI.hpp>

namespace csd::grade {

std::optional<CommandLine> parse_command_line(int argc, char** argv, int& exit_status) {
    CommandLine line;
    CLI::App app{
        "csd-grade: starts a lab server on a free loopback port, runs the lab's checks "
        "against it, prints one line per check and the score.\n"
        "Exit status: 0 full score, 1 below full score, 2 usage or internal error."};
    app.add_option("LAB", line.lab, "Lab id (see --list)");
    app.add_option("SERVER", line.server, "The server executable to grade");
    app.add_option("--json", line.json_file, "Also write Gradescope results.json to FILE")
        ->option_text("FILE");
    app.add_option("--check", line.checks, "Run only check ID (repeatable; start always runs)")
        ->option_text("ID")
        ->type_size(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_flag("--list", line.list, "List the labs and their checks with points");
    app.add_flag("--hidden", line.hidden,
                 "With --list: list the hidden (instructor-only) checks too, if any");
    app.add_option("--hidden-visibility", line.hidden_visibility,
                   "Gradescope visibility of the hidden checks in --json (default: "
                   "after_published)")
        ->option_text("V")
        ->check(CLI::IsMember({"hidden", "after_due_date", "after_published", "visible"}));
    app.add_flag("-v,--verbose", line.verbose, "Print progress to stderr");
    app.add_option("--time-scale", line.time_scale,
                   "Multiply every deadline and time threshold by X (0.1-100; default: "
                   "$CSD_TIME_SCALE, else 1): for slow machines and sanitizer builds")
        ->option_text("X")
        ->check(CLI::Range(0.1, 100.0));
    app.add_flag("-A,--autolab", line.autolab,
                 "End the output with Autolab's autoresult line: {\"scores\": {\"ID\": points, "
                 "...}}");
    app.add_option("--lock-dir", line.lock_dir,
                   "Graders sharing DIR run their heavy checks one at a time (csd-batch; "
                   "default: $CSD_LOCK_DIR, as the test suite sets it)")
        ->option_text("DIR");
    app.add_option("--deadline", line.deadline,
                   "Whole-run deadline in seconds, scaled like every other (default: "
                   "$CSD_DEADLINE, else 300): when it hits, the check running fails, the rest "
                   "are not run, and the results so far are reported")
        ->option_text("SECONDS")
        ->check(CLI::Range(1.0, 86400.0));
    app.add_flag("--leaderboard", line.leaderboard,
                 "After grading, measure the server's speed (csd-client -c 4 -t 500 -b 4000, "
                 "three runs: server CPU per connection, connections/s, peak memory), beside "
                 "--reference's; printed, and with --json written as Gradescope's leaderboard. "
                 "Never changes the score");
    app.add_option("--reference", line.reference,
                   "With --leaderboard: the server to compare with (the lab's reference "
                   "solution)")
        ->option_text("PROGRAM");
    app.add_option("--tsan", line.tsan,
                   "A ThreadSanitizer build (-fsanitize=thread) of the same server: the races "
                   "check runs it and reads its reports (without one, races is skipped, not "
                   "scored, unless SERVER is such a build itself)")
        ->option_text("PROGRAM");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        exit_status = app.exit(e) == 0 ? 0 : 2;
        return std::nullopt;
    }
    return line;
}

}  // namespace csd::grade
