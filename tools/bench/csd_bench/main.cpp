/// @file main.cpp
/// @brief csd-bench: UNP's design comparison (Fig. 30.1) on this machine:
/// every lab server, in each mode, under the same loads, side by side
/// (docs/contract.md, "csd-bench").

#include <fmt/core.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "csd/error.hpp"
#include "csd/signals.hpp"
#include "launch.hpp"
#include "load.hpp"
#include "output.hpp"
#include "results.hpp"
#include "server_process.hpp"
#include "servers.hpp"

namespace {

namespace fs = std::filesystem;
using namespace csd::bench;

/// What csd-bench was asked to do.
struct BenchOptions {
    std::string labs;                    ///< --labs: comma-separated ids.
    std::vector<std::string> profiles;   ///< --profile (repeatable).
    std::uint64_t connections = 2500;    ///< --connections.
    int repeat = 3;                      ///< --repeat.
    unsigned deadline_s = 120;           ///< --deadline: most seconds one load may take.
    std::string csv, json, plots;        ///< Output files and plot directory.
    std::vector<std::string> externals;  ///< NAME=COMMAND.
    bool student = false;                ///< --student: also skeleton-LAB.
    bool count_only = false;             ///< --count-only: for externals.
    std::string bin;                     ///< --bin: where solution-LAB are.
};

BenchOptions parse(int argc, char** argv) {
    BenchOptions options;
    CLI::App app{
        "csd-bench: runs lab servers (each mode of their flag), student builds and external\n"
        "servers one after another under the same loads and compares their cost: server CPU\n"
        "(reaped with wait4, children and threads included), per connection and against the\n"
        "iterative server of the same run, connections/s, latency, peak RSS, client CPU.\n"
        "Medians of --repeat runs. See docs/contract.md (csd-bench) and the design comparison "
        "page."};
    app.add_option("--labs", options.labs,
                   "Comma-separated lab ids (default: every ready lab server; the iterative "
                   "baseline is always added)");
    app.add_option("--profile", options.profiles,
                   "unp (5 clients x N/5 connections x 4,000 B), concurrent (up to 1,000 open "
                   "at once), bulk (4 x 64 MiB); repeatable (default: all three)")
        ->check(CLI::IsMember({"unp", "concurrent", "bulk"}));
    app.add_option("--connections", options.connections, "Connections per run (unp, concurrent)")
        ->check(CLI::Range(std::uint64_t{5}, std::uint64_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--repeat", options.repeat, "Runs per server and profile (medians)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--deadline", options.deadline_s,
                   "Most seconds one load may take; a server that needs more is stopped, its "
                   "unfinished connections fail and it is left out of the rest of the run")
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();
    app.add_option("--csv", options.csv, "Write the rows as CSV");
    app.add_option("--json", options.json, "Write the rows and the run's conditions as JSON");
    app.add_option("--plots", options.plots,
                   "Draw the plots (PNG and SVG, matplotlib) into this directory");
    app.add_flag("--student", options.student, "Also bench your builds (skeleton-LAB)");
    app.add_flag("--count-only", options.count_only,
                 "Externals: count reply bytes only, content NOT checked (servers outside the "
                 "contract, e.g. replying random bytes)");
    app.add_option("--bin", options.bin,
                   "Where solution-LAB and skeleton-LAB are (default: csd-bench's directory)");
    app.add_option("servers", options.externals,
                   "NAME=COMMAND: an external server; {host} and {port} are replaced, else "
                   "-i HOST -p PORT is appended");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        std::exit(2);
    }
    if (options.profiles.empty()) options.profiles = {"unp", "concurrent", "bulk"};
    if (options.bin.empty()) options.bin = fs::read_symlink("/proc/self/exe").parent_path();
    return options;
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream words(text);
    for (std::string item; std::getline(words, item, ',');)
        if (!item.empty()) items.push_back(item);
    return items;
}

/// Soft RLIMIT_NOFILE up to the hard limit: 1,000 connections at once.
void raise_descriptor_limit() {
    rlimit limit{};
    csd::check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit");
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

std::string first_line_of(const std::string& path, const std::string& key) {
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);)
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "";
}

std::string load_average() {
    std::ifstream file("/proc/loadavg");
    std::string one, five, fifteen;
    file >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
    return text;
}

/// A temporary directory (the alphabet file, server logs), removed at the end.
struct WorkDir {
    fs::path path;
    WorkDir() {
        std::string pattern = (fs::temp_directory_path() / "csd-bench.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) csd::throw_errno("mkdtemp");
        path = pattern;
    }
    WorkDir(const WorkDir&) = delete;
    WorkDir& operator=(const WorkDir&) = delete;
    ~WorkDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

/// The sendfile lab's -f file: the alphabet repeated (a multiple of 26
/// bytes), so that its replies are those of section 1.
std::string write_alphabet(const fs::path& dir) {
    const fs::path file = dir / "alphabet";
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 26 * 2520; ++i) out.put(static_cast<char>('a' + i % 26));
    return file.string();
}

std::string tail_of(const fs::path& log) {
    std::ifstream file(log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    if (lines.size() > 5) lines.erase(lines.begin(), lines.end() - 5);
    std::string text;
    for (const auto& line : lines) text += "    " + line + "\n";
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    const BenchOptions options = parse(argc, argv);
    try {
        csd::route_signals({SIGINT, SIGTERM, SIGALRM});  // SIGALRM: a load's deadline
        raise_descriptor_limit();
        std::vector<std::string> labs =
            options.labs.empty() ? server_labs() : split_commas(options.labs);
        if (std::find(labs.begin(), labs.end(), "iterative") == labs.end())
            labs.insert(labs.begin(), "iterative");
        std::vector<BenchServer> servers = lab_servers(labs, options.bin, options.student);
        for (const auto& spec : options.externals)
            servers.push_back(external_server(spec, options.count_only));
        std::vector<Profile> profiles;
        for (const auto& name : options.profiles)
            profiles.push_back(make_profile(name, options.connections));
        std::vector<std::string> count_only, seen;
        for (const auto& server : servers) {
            if (std::find(seen.begin(), seen.end(), server.name) != seen.end()) {
                fmt::print(stderr, "csd-bench: two servers are named '{}'\n", server.name);
                return 2;
            }
            seen.push_back(server.name);
            if (server.count_only) count_only.push_back(server.name);
        }

        WorkDir work;
        const std::string alphabet = write_alphabet(work.path);
        RunInfo run;
        run.date = utc_now();
        run.cpu = first_line_of("/proc/cpuinfo", "model name");
        run.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        run.load_average_before = load_average();
        run.connections = options.connections;
        run.repeat = options.repeat;
        run.profiles = options.profiles;
        utsname names{};
        if (::uname(&names) == 0) run.kernel = std::string(names.sysname) + " " + names.release;

        const bool tty = ::isatty(STDERR_FILENO) == 1;
        const std::size_t total =
            servers.size() * profiles.size() * static_cast<std::size_t>(options.repeat);
        std::size_t done = 0;
        std::vector<std::string> broken;  // servers that did not start
        std::vector<Sample> samples;
        const auto start = std::chrono::steady_clock::now();
        for (int repeat = 1; repeat <= options.repeat; ++repeat) {
            for (const BenchServer& server : servers) {
                for (const Profile& profile : profiles) {
                    ++done;
                    if (std::find(broken.begin(), broken.end(), server.name) != broken.end())
                        continue;
                    fmt::print(stderr, "{}[{}/{}] run {}/{}: {} under {}{}", tty ? "\r\033[K" : "",
                               done, total, repeat, options.repeat, server.name, profile.name,
                               tty ? "" : "\n");
                    const fs::path log = work.path / "server.log";
                    std::optional<ServerProcess> process;
                    // Another program may take the free port before the server
                    // binds it: then the server is started again on another
                    // (csd::launch::start_on_free_port(), as csd-grade does).
                    // Ready means listed as listening in /proc/net/tcp: no
                    // connection of csd-bench's own reaches a server outside
                    // the contract before the load does.
                    csd::launch::ServerHooks hooks;
                    hooks.start = [&](std::uint16_t p) {
                        fs::remove(log);
                        process.emplace(command_line(server, "127.0.0.1", p, alphabet),
                                        log.string());
                    };
                    hooks.ended = [&] { return process->ended(); };
                    hooks.port_in_use = [&] {
                        return csd::launch::said_address_in_use(tail_of(log));
                    };
                    hooks.ready = [](std::uint16_t p) { return csd::launch::port_listening(p); };
                    hooks.stop = [&] {
                        (void)process->stop();
                        process.reset();
                    };
                    const csd::launch::LaunchResult launched =
                        csd::launch::start_on_free_port(hooks);
                    const int port = launched.port;
                    if (launched.status != csd::launch::LaunchStatus::ready) {
                        const std::string failure = process->stop().how;
                        process.reset();
                        fmt::print(stderr,
                                   "{}csd-bench: {} did not start listening ({}); left out:\n{}",
                                   tty ? "\r\033[K" : "", server.name, failure, tail_of(log));
                        broken.push_back(server.name);
                        continue;
                    }
                    bool interrupted = false;
                    LoadResult load =
                        run_load(profile, port, server.count_only, options.deadline_s, interrupted);
                    const ServerUsage usage = process->stop();
                    if (interrupted) {
                        fmt::print(stderr, "\ncsd-bench: interrupted\n");
                        return 130;
                    }
                    if (load.stopped) {
                        load.first_failure =
                            fmt::format("stopped after {} s (--deadline){}{}", options.deadline_s,
                                        load.first_failure.empty() ? "" : "; ", load.first_failure);
                        fmt::print(stderr, "{}csd-bench: {}: {}; left out of the rest of the run\n",
                                   tty ? "\r\033[K" : "", server.name, load.first_failure);
                        broken.push_back(server.name);
                    }
                    samples.push_back(
                        Sample{server.name, profile.name, profile.connections(), usage, load});
                }
            }
        }
        if (tty) fmt::print(stderr, "\r\033[K");
        run.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        run.load_average_after = load_average();
        run.left_out = broken;
        for (const auto& server : servers)
            run.commands.emplace_back(server.name, command_template(server));

        const std::vector<Row> rows = summarize_samples(samples, count_only);
        fmt::print("csd-bench: {}, {} CPUs, load average {} -> {}, {:.0f} s\n", run.date, run.cpus,
                   run.load_average_before, run.load_average_after, run.seconds);
        print_table(rows);
        std::string csv = options.csv;
        if (csv.empty() && !options.plots.empty()) {
            fs::create_directories(options.plots);
            csv = (fs::path(options.plots) / "designs.csv").string();
        }
        if (!csv.empty()) write_csv(rows, csv);
        if (!options.json.empty()) write_json(rows, run, options.json);
        if (!options.plots.empty()) {
            fs::create_directories(options.plots);
            // The script also writes designs-table.md (with the run's conditions from the JSON).
            std::string command = fmt::format("/usr/bin/python3 '{}' '{}' '{}'",
                                              CSD_BENCH_PLOT_SCRIPT, csv, options.plots);
            if (!options.json.empty()) command += fmt::format(" '{}'", options.json);
            if (std::system(command.c_str()) != 0) {
                fmt::print(stderr, "csd-bench: drawing the plots failed ({})\n", command);
                return 1;
            }
        }
        return broken.empty() ? 0 : 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-bench: {}\n", e.what());
        return 2;
    }
}
