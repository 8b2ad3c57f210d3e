#include "output.hpp"

#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace csd::bench {
namespace {

/// A number for the CSV: "" for NaN, else up to 6 significant digits.
std::string number(double value) {
    return std::isnan(value) ? std::string() : fmt::format("{:.6g}", value);
}

/// A ratio for the table: "-" for NaN.
std::string times(double value) {
    return std::isnan(value) ? std::string("-") : fmt::format("{:.2f}", value);
}

/// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string field(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"') quoted += '"';
        quoted += c == '\n' ? ' ' : c;
    }
    return quoted + "\"";
}

std::vector<std::string> values_of(const Row& row) {
    return {field(row.server),
            row.profile,
            std::to_string(row.connections),
            std::to_string(row.repeats),
            number(row.server_cpu_s),
            number(row.cpu_per_conn_us),
            number(row.overhead_vs_iterative),
            number(row.overhead_us_per_conn),
            number(row.conn_per_s),
            number(row.conn_per_s_vs_iterative),
            number(row.p50_ms),
            number(row.p99_ms),
            number(row.p99_vs_iterative),
            number(row.peak_rss_kib),
            number(row.peak_rss_vs_iterative),
            number(row.client_cpu_s),
            row.client_bound ? "1" : "0",
            row.count_only ? "1" : "0",
            std::to_string(row.failed),
            field(row.note)};
}

}  // namespace

const std::vector<std::string>& csv_columns() {
    static const std::vector<std::string> columns = {"server",
                                                     "profile",
                                                     "connections",
                                                     "repeats",
                                                     "server_cpu_s",
                                                     "cpu_per_conn_us",
                                                     "overhead_vs_iterative",
                                                     "overhead_us_per_conn",
                                                     "conn_per_s",
                                                     "conn_per_s_vs_iterative",
                                                     "p50_ms",
                                                     "p99_ms",
                                                     "p99_vs_iterative",
                                                     "peak_rss_kib",
                                                     "peak_rss_vs_iterative",
                                                     "client_cpu_s",
                                                     "client_bound",
                                                     "count_only",
                                                     "failed",
                                                     "note"};
    return columns;
}

void print_table(const std::vector<Row>& rows) {
    std::string profile;
    for (const Row& row : rows) {
        if (row.profile != profile) {
            profile = row.profile;
            fmt::print("\n{} ({} connections, medians of {} runs)\n", profile, row.connections,
                       row.repeats);
            fmt::print("{:<26} {:>9} {:>9} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9}  {}\n",
                       "server", "CPU s", "us/conn", "x iter", "+us/conn", "conn/s", "p50 ms",
                       "p99 ms", "RSS MiB", "client s", "notes");
        }
        std::string notes;
        if (row.client_bound) notes += "client-bound ";
        if (row.count_only) notes += "count-only ";
        if (row.failed > 0)
            notes += fmt::format("{} FAILED: {}", row.failed, row.note);
        else if (!row.note.empty())
            notes += row.note;
        fmt::print(
            "{:<26} {:>9.3f} {:>9.1f} {:>7} {:>9} {:>9.0f} {:>8.3f} {:>8.3f} {:>9.1f} {:>9.3f}  "
            "{}\n",
            row.server, row.server_cpu_s, row.cpu_per_conn_us, times(row.overhead_vs_iterative),
            std::isnan(row.overhead_us_per_conn) ? std::string("-")
                                                 : fmt::format("{:.1f}", row.overhead_us_per_conn),
            row.conn_per_s, row.p50_ms, row.p99_ms, row.peak_rss_kib / 1024.0, row.client_cpu_s,
            notes);
    }
    fmt::print(
        "\nx iter: CPU per connection over the iterative server's; +us/conn: the difference "
        "(UNP's\n"
        "process-control time). client-bound: the client used more CPU than the server, so conn/s\n"
        "and latency measure the client. count-only: reply content NOT checked. RSS: largest "
        "process.\n");
}

void write_csv(const std::vector<Row>& rows, const std::string& path) {
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot write " + path);
    const auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) out << (i ? "," : "") << fields[i];
        out << '\n';
    };
    line(csv_columns());
    for (const Row& row : rows) line(values_of(row));
    if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

void write_json(const std::vector<Row>& rows, const RunInfo& info, const std::string& path) {
    nlohmann::json commands = nlohmann::json::object();
    for (const auto& [name, argv] : info.commands) commands[name] = argv;
    const nlohmann::json run{{"date", info.date},
                             {"cpu", info.cpu},
                             {"cpus", info.cpus},
                             {"kernel", info.kernel},
                             {"load_average_before", info.load_average_before},
                             {"load_average_after", info.load_average_after},
                             {"connections", info.connections},
                             {"repeat", info.repeat},
                             {"profiles", info.profiles},
                             {"seconds", info.seconds},
                             {"left_out", info.left_out},
                             {"commands", commands}};
    nlohmann::json list = nlohmann::json::array();
    const auto real = [](double value) {
        return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
    };
    for (const Row& row : rows) {
        list.push_back({{"server", row.server},
                        {"profile", row.profile},
                        {"connections", row.connections},
                        {"repeats", row.repeats},
                        {"server_cpu_s", row.server_cpu_s},
                        {"cpu_per_conn_us", row.cpu_per_conn_us},
                        {"overhead_vs_iterative", real(row.overhead_vs_iterative)},
                        {"overhead_us_per_conn", real(row.overhead_us_per_conn)},
                        {"conn_per_s", row.conn_per_s},
                        {"conn_per_s_vs_iterative", real(row.conn_per_s_vs_iterative)},
                        {"p50_ms", row.p50_ms},
                        {"p99_ms", row.p99_ms},
                        {"p99_vs_iterative", real(row.p99_vs_iterative)},
                        {"peak_rss_kib", row.peak_rss_kib},
                        {"peak_rss_vs_iterative", real(row.peak_rss_vs_iterative)},
                        {"client_cpu_s", row.client_cpu_s},
                        {"client_bound", row.client_bound},
                        {"count_only", row.count_only},
                        {"failed", row.failed},
                        {"note", row.note}});
    }
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot write " + path);
    out << nlohmann::json{{"run", run}, {"rows", list}}.dump(2) << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

}  // namespace csd::bench
