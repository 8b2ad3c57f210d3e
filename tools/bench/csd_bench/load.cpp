#include "load.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "address.hpp"
#include "children.hpp"
#include "csd/error.hpp"
#include "csd/signals.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "tally.hpp"

namespace csd::bench {
namespace {

double cpu_seconds(int who) {
    rusage used{};
    csd::check(::getrusage(who, &used), "getrusage");
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(used.ru_utime) + seconds(used.ru_stime);
}

double milliseconds(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

}  // namespace

Profile make_profile(const std::string& name, std::uint64_t connections) {
    Profile profile;
    profile.name = name;
    connections = std::max<std::uint64_t>(connections, 1);
    if (name == "unp") {
        profile.children = 5;
        profile.per_child = std::max<std::uint64_t>(connections / 5, 1);
    } else if (name == "concurrent") {
        profile.concurrent = std::min<std::uint64_t>(connections, 1000);
        profile.per_child = std::max<std::uint64_t>(connections / profile.concurrent, 1);
    } else if (name == "bulk") {
        profile.children = 2;
        profile.per_child = connections >= 4 ? 2 : 1;
        profile.bytes = std::uint64_t{64} << 20;
        profile.timeout_s = 60;
    } else {
        throw std::invalid_argument("unknown profile '" + name + "' (unp, concurrent, bulk)");
    }
    return profile;
}

LoadResult run_load(const Profile& profile, int port, bool count_only, unsigned deadline_s,
                    bool& interrupted) {
    csd::client::ClientOptions options;
    options.host = "127.0.0.1";
    options.port = static_cast<std::uint16_t>(port);
    options.children = profile.children;
    options.connections = profile.per_child;
    options.bytes = profile.bytes;
    options.concurrent = profile.concurrent;
    options.timeout_s = profile.timeout_s;
    options.quiet = true;
    options.count_only = count_only;
    const csd::client::Address address = csd::client::resolve(options.host, options.port);

    csd::client::Tally tally(options.children, options.per_child());
    const double self_before = cpu_seconds(RUSAGE_SELF);
    const double children_before = cpu_seconds(RUSAGE_CHILDREN);
    const auto start = std::chrono::steady_clock::now();
    ::alarm(deadline_s);  // SIGALRM ends run_children() early, as SIGINT does
    const bool completed = csd::client::run_children(options, address, tally);
    ::alarm(0);
    (void)csd::drain_signals();           // an alarm that rang just as the load ended
    interrupted = csd::stop_requested();  // SIGINT or SIGTERM: the flag stays set
    const auto elapsed = std::chrono::steady_clock::now() - start;

    LoadResult result;
    result.stopped = !completed && !interrupted;
    result.client_cpu_s =
        (cpu_seconds(RUSAGE_SELF) - self_before) + (cpu_seconds(RUSAGE_CHILDREN) - children_before);
    result.elapsed_s = std::chrono::duration<double>(elapsed).count();
    result.ok = tally.ok();
    result.failed = tally.failed();
    if (!tally.shown().empty()) result.first_failure = tally.shown().front();
    const csd::client::LatencySummary latency = csd::client::summarize(tally.latencies());
    result.p50_ms = milliseconds(latency.p50);
    result.p99_ms = milliseconds(latency.p99);
    return result;
}

}  // namespace csd::bench
