#include "results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "median.hpp"

namespace csd::bench {
namespace {

template <typename Get>
double median_of(const std::vector<const Sample*>& samples, Get get) {
    std::vector<double> values;
    for (const Sample* sample : samples) values.push_back(get(*sample));
    return median(std::move(values));
}

double ratio(double value, double base) {
    return base > 0 ? value / base : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::vector<Row> summarize_samples(const std::vector<Sample>& samples,
                                   const std::vector<std::string>& count_only) {
    // Profiles, then servers, each in order of first appearance: one block per profile.
    std::vector<std::string> profiles, servers;
    for (const Sample& sample : samples) {
        if (std::find(profiles.begin(), profiles.end(), sample.profile) == profiles.end())
            profiles.push_back(sample.profile);
        if (std::find(servers.begin(), servers.end(), sample.server) == servers.end())
            servers.push_back(sample.server);
    }
    std::vector<std::pair<std::string, std::string>> keys;
    for (const std::string& profile : profiles)
        for (const std::string& server : servers) {
            const bool ran = std::any_of(samples.begin(), samples.end(), [&](const Sample& s) {
                return s.server == server && s.profile == profile;
            });
            if (ran) keys.emplace_back(server, profile);
        }
    std::vector<Row> rows;
    for (const auto& [server, profile] : keys) {
        std::vector<const Sample*> runs;
        for (const Sample& sample : samples)
            if (sample.server == server && sample.profile == profile) runs.push_back(&sample);
        Row row;
        row.server = server;
        row.profile = profile;
        row.connections = runs.front()->connections;
        row.repeats = static_cast<int>(runs.size());
        row.server_cpu_s = median_of(runs, [](const Sample& s) { return s.usage.cpu_s; });
        row.cpu_per_conn_us = median_of(runs, [](const Sample& s) {
            return s.usage.cpu_s * 1e6 /
                   static_cast<double>(std::max<std::uint64_t>(s.connections, 1));
        });
        row.conn_per_s = median_of(runs, [](const Sample& s) {
            return s.load.elapsed_s > 0 ? static_cast<double>(s.load.ok) / s.load.elapsed_s : 0.0;
        });
        row.p50_ms = median_of(runs, [](const Sample& s) { return s.load.p50_ms; });
        row.p99_ms = median_of(runs, [](const Sample& s) { return s.load.p99_ms; });
        row.peak_rss_kib = median_of(
            runs, [](const Sample& s) { return static_cast<double>(s.usage.peak_rss_kib); });
        row.client_cpu_s = median_of(runs, [](const Sample& s) { return s.load.client_cpu_s; });
        row.count_only =
            std::find(count_only.begin(), count_only.end(), server) != count_only.end();
        for (const Sample* run : runs) {
            row.failed += run->load.failed;
            if (row.note.empty() && !run->load.first_failure.empty())
                row.note = run->load.first_failure;
            if (row.note.empty() && !run->usage.clean_exit)
                row.note = "after SIGTERM the server " + run->usage.how;
        }
        // A server that failed connections did less work: no verdict on the client then.
        row.client_bound = row.failed == 0 && row.client_cpu_s > row.server_cpu_s;
        rows.push_back(std::move(row));
    }
    for (Row& row : rows) {
        // The iterative server of the same run: the reference solution's, or
        // in the student release (no solutions) the student's own.
        auto base = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
            return r.server == "iterative" && r.profile == row.profile;
        });
        if (base == rows.end()) {
            base = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
                return r.server == "iterative (yours)" && r.profile == row.profile;
            });
        }
        const Row none{};
        const Row& iterative = base == rows.end() ? none : *base;
        row.overhead_vs_iterative = ratio(row.cpu_per_conn_us, iterative.cpu_per_conn_us);
        row.overhead_us_per_conn = base == rows.end()
                                       ? std::numeric_limits<double>::quiet_NaN()
                                       : row.cpu_per_conn_us - iterative.cpu_per_conn_us;
        row.conn_per_s_vs_iterative = ratio(row.conn_per_s, iterative.conn_per_s);
        row.p99_vs_iterative = ratio(row.p99_ms, iterative.p99_ms);
        row.peak_rss_vs_iterative = ratio(row.peak_rss_kib, iterative.peak_rss_kib);
    }
    return rows;
}

}  // namespace csd::bench
