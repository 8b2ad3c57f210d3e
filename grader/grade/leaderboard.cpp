#include "leaderboard.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "command.hpp"
#include "deadline.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "served_file.hpp"
#include "server.hpp"
#include "timing.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

/// The load: csd-client -c clients -t per_client -b bytes.
constexpr int clients = 4;
constexpr int per_client = 500;
constexpr int bytes = 4000;
/// Runs per server (medians).
constexpr int runs = 3;
/// Longest one load may take (scaled).
constexpr auto load_limit = 60s;

double seconds_of(const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

double cpu_seconds(const rusage& r) {
    return seconds_of(r.ru_utime) + seconds_of(r.ru_stime);
}

double children_cpu_seconds() {
    rusage r{};
    ::getrusage(RUSAGE_CHILDREN, &r);
    return cpu_seconds(r);
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// One run: the server started, loaded once, stopped.
std::optional<SpeedFigures> one_run(const std::string& program,
                                    const std::vector<std::string>& args, bool count_only,
                                    std::string& problem) {
    const double before = children_cpu_seconds();
    Server server(program);
    const Readiness ready = server.start(5s, args);
    if (!ready.accepting) {
        problem = fmt::format("{} did not start: {}", program, ready.problem);
        return std::nullopt;
    }
    std::vector<std::string> argv = {sibling_program("csd-client"),
                                     "-i",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(server.port()),
                                     "-c",
                                     std::to_string(clients),
                                     "-t",
                                     std::to_string(per_client),
                                     "-b",
                                     std::to_string(bytes)};
    if (count_only) argv.emplace_back("--count-only");
    const auto start = Deadline::Clock::now();
    const pid_t client = spawn(argv, -1, -1);
    const Deadline limit = Deadline::ignoring_run_end(load_limit);
    std::uint64_t peak = procfs::tree_rss_bytes(server.pid());
    rusage used{};
    int status = 0;
    for (;;) {
        const pid_t done = ::wait4(client, &status, WNOHANG, &used);
        if (done == client) break;
        if (done < 0 && errno != EINTR) {
            problem = "csd-client could not be waited for";
            return std::nullopt;
        }
        if (limit.expired()) {
            ::kill(client, SIGKILL);
            (void)::wait4(client, &status, 0, &used);
            problem = fmt::format("the load on {} did not end within {:g} s", program,
                                  scaled_seconds(std::chrono::duration<double>(load_limit)));
            return std::nullopt;
        }
        peak = std::max(peak, procfs::tree_rss_bytes(server.pid()));
        std::this_thread::sleep_for(5ms);
    }
    const double wall = std::chrono::duration<double>(Deadline::Clock::now() - start).count();
    server.stop();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        problem =
            fmt::format("csd-client failed against {} ({})", program, describe_wait_status(status));
        return std::nullopt;
    }
    const double server_cpu = children_cpu_seconds() - before - cpu_seconds(used);
    const double connections = static_cast<double>(clients) * per_client;
    return SpeedFigures{.cpu_us_per_connection = std::max(server_cpu, 0.0) / connections * 1e6,
                        .connections_per_second = connections / std::max(wall, 1e-6),
                        .peak_rss_mib = static_cast<double>(peak) / (1024.0 * 1024.0),
                        .runs = 1};
}

}  // namespace

std::optional<SpeedFigures> measure_speed(const LabInfo& lab, const std::string& program,
                                          std::string& problem) {
    // A lab that serves a file gets a small one; csd-client then counts the
    // reply bytes only (the grading checked them).
    std::optional<ServedFile> file;
    std::vector<std::string> args = server_args(lab, "");
    if (lab.reply == Reply::served_file) {
        file.emplace(1u << 20);
        args.insert(args.begin(), {"-f", file->path()});
    }
    const bool count_only = lab.reply != Reply::alphabet;
    std::vector<double> cpu, rate, rss;
    for (int i = 0; i < runs; ++i) {
        const auto run = one_run(program, args, count_only, problem);
        if (!run) return std::nullopt;
        cpu.push_back(run->cpu_us_per_connection);
        rate.push_back(run->connections_per_second);
        rss.push_back(run->peak_rss_mib);
    }
    return SpeedFigures{.cpu_us_per_connection = median(cpu),
                        .connections_per_second = median(rate),
                        .peak_rss_mib = median(rss),
                        .runs = runs};
}

nlohmann::json leaderboard_json(const SpeedFigures& graded,
                                const std::optional<SpeedFigures>& reference) {
    const auto rounded = [](double v, int digits) {
        const double scale = std::pow(10.0, digits);
        return std::round(v * scale) / scale;
    };
    nlohmann::json board = nlohmann::json::array();
    board.push_back({{"name", "Server CPU per connection (µs)"},
                     {"value", rounded(graded.cpu_us_per_connection, 1)},
                     {"order", "asc"}});
    board.push_back({{"name", "Connections per second"},
                     {"value", rounded(graded.connections_per_second, 0)},
                     {"order", "desc"}});
    board.push_back({{"name", "Peak memory (MiB)"},
                     {"value", rounded(graded.peak_rss_mib, 1)},
                     {"order", "asc"}});
    if (reference && reference->cpu_us_per_connection > 0) {
        board.push_back(
            {{"name", "Server CPU vs the reference solution (x)"},
             {"value", rounded(graded.cpu_us_per_connection / reference->cpu_us_per_connection, 2)},
             {"order", "asc"}});
    }
    return board;
}

std::string leaderboard_text(const SpeedFigures& graded,
                             const std::optional<SpeedFigures>& reference) {
    const auto row = [](std::string_view who, const SpeedFigures& f) {
        return fmt::format("  {:<10} {:>9.1f} µs/conn {:>9.0f} conn/s {:>7.1f} MiB\n", who,
                           f.cpu_us_per_connection, f.connections_per_second, f.peak_rss_mib);
    };
    std::string text = fmt::format(
        "leaderboard (not part of the score; csd-client -c {} -t {} -b {}, medians of {} "
        "runs; server CPU of the whole server, children and threads included):\n",
        clients, per_client, bytes, graded.runs);
    text += row("yours", graded);
    if (reference) {
        text += row("reference", *reference);
        if (reference->cpu_us_per_connection > 0) {
            text += fmt::format("  server CPU {:.2f}x the reference solution's\n",
                                graded.cpu_us_per_connection / reference->cpu_us_per_connection);
        }
    }
    return text;
}

}  // namespace csd::grade
