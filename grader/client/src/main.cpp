/// @file main.cpp
/// @brief csd-client: the shared load and check client (docs/contract.md section 3).

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "address.hpp"
#include "children.hpp"
#include "csd/error.hpp"
#include "csd/signals.hpp"
#include "options.hpp"
#include "report.hpp"
#include "tally.hpp"

namespace {

constexpr int exit_all_exact = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

/// Raises the soft RLIMIT_NOFILE so that one process can hold @p sockets
/// sockets plus a few descriptors more; throws std::runtime_error when the
/// hard limit is too low.
void make_room_for(std::uint64_t sockets) {
    const rlim_t needed = static_cast<rlim_t>(sockets) + 64;
    rlimit limit{};
    csd::check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit");
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= needed) return;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed)
        throw std::runtime_error(fmt::format(
            "--concurrent {} needs {} descriptors, but the hard limit (ulimit -Hn) is {}", sockets,
            needed, limit.rlim_max));
    limit.rlim_cur = needed;
    csd::check(::setrlimit(RLIMIT_NOFILE, &limit), "setrlimit(RLIMIT_NOFILE)");
}

/// User + system CPU time of this process and of its reaped children, in seconds.
double cpu_seconds() {
    double total = 0;
    for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage used{};
        if (::getrusage(who, &used) != 0) continue;
        total += static_cast<double>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) +
                 static_cast<double>(used.ru_utime.tv_usec + used.ru_stime.tv_usec) / 1e6;
    }
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace csd::client;
    const ClientOptions options = parse_client_options(argc, argv);
    Address address;
    try {
        address = resolve(options.host, options.port);
        if (options.concurrent > 0) make_room_for(options.concurrent);
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-client: {}\n", e.what());
        return exit_usage;
    }
    try {
        csd::route_signals({SIGINT, SIGTERM});  // run_children() ends early on them
        Tally tally(options.children, options.per_child());
        const auto start = std::chrono::steady_clock::now();
        const bool completed = run_children(options, address, tally);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (!completed) fmt::print(stderr, "csd-client: interrupted\n");
        print_failures(tally);
        if (!options.quiet) {
            if (options.count_only)
                fmt::print("count-only: reply content NOT checked, bytes counted only\n");
            print_summary(tally, elapsed);
            print_client_cpu(cpu_seconds(), elapsed, options.children,
                             static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
        }
        return completed && tally.failed() == 0 ? exit_all_exact : exit_failed;
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-client: {}\n", e.what());
        return exit_failed;
    }
}
