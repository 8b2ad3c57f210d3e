#include "report.hpp"

#include <fmt/format.h>

#include "hidden.hpp"
#include "scoring.hpp"

namespace csd::grade {
namespace {

// @p text with every line after the first indented by @p indent.
std::string indent_continuation(std::string_view text, std::string_view indent) {
    std::string out;
    for (const char c : text) {
        out += c;
        if (c == '\n') out += indent;
    }
    return out;
}

// Where the handout explains the usual causes of a failed check: its section
// "What usually goes wrong" (the same anchor on a forge and on the docs site),
// where each entry starts with the names of the checks it is about.
std::string see_text(const LabInfo& lab) {
    return handout_path(lab) + "#what-usually-goes-wrong";
}

}  // namespace

std::string format_result(const CheckResult& r, const LabInfo& lab) {
    if (r.skipped) {
        return fmt::format("SKIP  {:<16}  -/{}  (not scored)\n  why: {}\n", r.id, r.max_points,
                           indent_continuation(r.saw, "       "));
    }
    std::string out = fmt::format("{:<4}  {:<16}{:>3}/{}\n", r.passed ? "PASS" : "FAIL", r.id,
                                  r.points, r.max_points);
    if (!r.passed) {
        if (!r.saw.empty()) out += "  saw: " + indent_continuation(r.saw, "       ") + "\n";
        if (!r.hint.empty()) {
            out += "  hint: " + indent_continuation(r.hint, "        ") + "\n";
            out += "  see: " + see_text(lab) + "\n";
        }
    }
    return out;
}

int score(const std::vector<CheckResult>& results) {
    int total = 0;
    for (const auto& r : results) {
        if (!r.skipped) total += r.points;
    }
    return total;
}

int max_score(const std::vector<CheckResult>& results) {
    int total = 0;
    for (const auto& r : results) {
        if (!r.skipped) total += r.max_points;
    }
    return total;
}

std::string format_score(const std::vector<CheckResult>& results) {
    std::string skipped;
    for (const auto& r : results) {
        if (r.skipped) skipped += (skipped.empty() ? "" : ", ") + r.id;
    }
    if (skipped.empty()) return fmt::format("Score: {}/{}\n", score(results), max_score(results));
    return fmt::format("Score: {}/{} (skipped, not scored: {})\n", score(results),
                       max_score(results), skipped);
}

std::string result_output(const CheckResult& r, const LabInfo& lab) {
    if (r.skipped) return "skipped (not scored): " + r.saw + "\n";
    if (r.passed) return "passed";
    std::string out;
    if (!r.saw.empty()) out += "saw: " + r.saw + "\n";
    if (!r.hint.empty()) out += "hint: " + r.hint + "\nsee: " + see_text(lab) + "\n";
    return out;
}

nlohmann::json gradescope_json(const std::vector<CheckResult>& results, const LabInfo& lab,
                               std::string_view hidden_visibility) {
    nlohmann::json tests = nlohmann::json::array();
    double seconds = 0;
    for (const auto& r : results) {
        seconds += r.seconds;
        const std::string visibility{is_hidden_check(r.id) ? hidden_visibility : "visible"};
        if (r.skipped) {
            // Gradescope knows only "passed" and "failed": a skipped check
            // has no status (0/0, nothing lost) and says why in its output.
            tests.push_back({{"name", r.id},
                             {"score", 0},
                             {"max_score", 0},
                             {"output", result_output(r, lab)},
                             {"visibility", visibility}});
            continue;
        }
        tests.push_back({{"name", r.id},
                         {"score", r.points},
                         {"max_score", r.max_points},
                         {"status", r.passed ? "passed" : "failed"},
                         {"output", result_output(r, lab)},
                         {"visibility", visibility}});
    }
    // How long each check took and its own deadline (the flakiness run reads them).
    for (std::size_t i = 0; i < results.size(); ++i) {
        tests[i]["extra_data"] = {{"seconds", results[i].seconds},
                                  {"deadline_seconds", results[i].deadline}};
    }
    return {{"score", score(results)},
            {"max_score", max_score(results)},
            {"execution_time", static_cast<int>(seconds + 0.5)},
            {"visibility", "visible"},
            {"tests", tests}};
}

nlohmann::json autolab_json(const std::vector<CheckResult>& results) {
    nlohmann::json scores = nlohmann::json::object();
    for (const auto& r : results) {
        if (!r.skipped) scores[r.id] = r.points;
    }
    return {{"scores", scores}};
}

std::string format_list(std::string_view only, bool with_hidden) {
    std::string out;
    for (const auto& lab : labs()) {
        if (lab.hidden || (!only.empty() && lab.id != only)) continue;
        if (!lab.available) {
            out += fmt::format("{:<10} {} (not yet available)\n", lab.id, lab.title);
            continue;
        }
        // Without with_hidden, a hidden check is left out of the lab's points too.
        int points = lab_points(lab);
        std::string lines;
        for (const auto id : lab.checks) {
            const CheckInfo* c = find_check(id);
            if (is_hidden_check(id) && !with_hidden) {
                points -= check_points(lab, *c);
                continue;
            }
            lines += fmt::format("  {:<14}{:>3}  {}{}\n", c->id, check_points(lab, *c), c->summary,
                                 is_hidden_check(id) ? " [hidden]" : "");
        }
        out += fmt::format("{:<10} {} ({} points)\n", lab.id, lab.title, points) + lines;
    }
    return out;
}

}  // namespace csd::grade
