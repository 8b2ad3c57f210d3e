#include "summary.hpp"

#include <fmt/format.h>

#include <cmath>
#include <regex>

namespace csd::batch {
namespace {

// Seconds rounded to tenths, for the summaries.
double tenths(double seconds) {
    return std::round(seconds * 10) / 10;
}

}  // namespace

std::string_view status_name(Status status) {
    switch (status) {
        case Status::built:
            return "built";
        case Status::build_error:
            return "build-error";
        case Status::grader_error:
            return "grader-error";
        case Status::timeout:
            return "timeout";
    }
    return "unknown";
}

int LabColumns::max_score() const {
    int total = 0;
    for (const auto& [id, points] : checks) total += points;
    return total;
}

bool read_results(const nlohmann::json& json, StudentResult& result) {
    if (!json.is_object() || !json.contains("score") || !json.contains("max_score") ||
        !json.contains("tests") || !json["tests"].is_array()) {
        return false;
    }
    try {
        result.score = json["score"].get<int>();
        result.max_score = json["max_score"].get<int>();
        result.points.clear();
        for (const auto& test : json["tests"]) {
            if (test.value("status", "") == "skipped") continue;
            result.points[test.at("name").get<std::string>()] = test.at("score").get<int>();
        }
    } catch (const nlohmann::json::exception&) {
        return false;
    }
    return true;
}

int read_check_lines(std::string_view output, StudentResult& result) {
    // format_result() in grader/grade/report.cpp: "PASS  id<padding>  3/3".
    static const std::regex line(R"(^(PASS|FAIL)  ([a-z0-9-]+) *([0-9]+)/([0-9]+)$)");
    int count = 0;
    std::size_t pos = 0;
    while (pos < output.size()) {
        auto nl = output.find('\n', pos);
        if (nl == std::string_view::npos) nl = output.size();
        const std::string text(output.substr(pos, nl - pos));
        pos = nl + 1;
        std::smatch m;
        if (!std::regex_match(text, m, line)) continue;
        const int points = std::stoi(m[3].str());
        result.points[m[2].str()] = points;
        result.score += points;
        ++count;
    }
    return count;
}

std::string first_error_line(std::string_view text, std::size_t max) {
    std::string_view last;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view l = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (l.find("error:") != std::string_view::npos ||
            l.find("undefined reference") != std::string_view::npos) {
            return std::string(l.substr(0, max));
        }
        if (!l.empty()) last = l;
    }
    return std::string(last.substr(0, max));
}

std::string csv_field(std::string_view field) {
    if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
    std::string out = "\"";
    for (const char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

std::string summary_csv(const LabColumns& lab, const std::vector<StudentResult>& results) {
    std::string out = "student,status,score,max_score";
    for (const auto& [id, points] : lab.checks) out += "," + csv_field(id);
    out += ",seconds\n";
    for (const auto& r : results) {
        out += fmt::format("{},{},{},{}", csv_field(r.student), status_name(r.status), r.score,
                           r.max_score);
        for (const auto& [id, points] : lab.checks) {
            const auto it = r.points.find(id);
            out += it == r.points.end() ? "," : fmt::format(",{}", it->second);
        }
        out += fmt::format(",{:.1f}\n", r.seconds);
    }
    return out;
}

nlohmann::json summary_json(const LabColumns& lab, const std::vector<StudentResult>& results) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& [id, points] : lab.checks) checks.push_back({{"id", id}, {"points", points}});
    nlohmann::json students = nlohmann::json::array();
    for (const auto& r : results) {
        nlohmann::json per_check = nlohmann::json::object();
        for (const auto& [id, points] : lab.checks) {
            const auto it = r.points.find(id);
            per_check[id] =
                it == r.points.end() ? nlohmann::json(nullptr) : nlohmann::json(it->second);
        }
        students.push_back({{"student", r.student},
                            {"status", status_name(r.status)},
                            {"score", r.score},
                            {"max_score", r.max_score},
                            {"checks", per_check},
                            {"seconds", tenths(r.seconds)},
                            {"message", r.message}});
    }
    return {{"lab", lab.lab},
            {"max_score", lab.max_score()},
            {"checks", checks},
            {"students", students}};
}

}  // namespace csd::batch
