#include "registry.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "csd/grade/course_labs.hpp"
#include "hidden.hpp"

namespace csd::grade {
namespace {

// The test-only labs (hidden from --list and the course), with their own
// checks, each worth its own points: they prove the architecture models on
// the small servers of grader/broken/models.cpp. Every course lab comes from
// the lab manifest labs/labs.txt (course_labs.hpp).
const std::vector<LabInfo>& test_labs() {
    static const std::vector<LabInfo> table = {
        {.id = "test-pool",
         .title = "Test only: a fixed pool of -n worker processes",
         .available = true,
         .model = Model::process_pool,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
        {.id = "test-thread",
         .title = "Test only: one thread per connection",
         .available = true,
         .model = Model::thread_per_connection,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .hidden = true},
        {.id = "test-thread-pool",
         .title = "Test only: a fixed pool of -n threads",
         .available = true,
         .model = Model::thread_pool,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
        {.id = "test-fdpass",
         .title = "Test only: the parent passes each connection to one of -n workers",
         .available = true,
         .model = Model::descriptor_passing,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
    };
    return table;
}

// Adds the hidden checks of @p lab (hidden.hpp) to its list, each right
// before the check it names (or last).
void add_hidden_checks(LabInfo& lab) {
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.lab != lab.id) continue;
        const auto at = std::find(lab.checks.begin(), lab.checks.end(), h.before);
        lab.checks.insert(h.before.empty() ? lab.checks.end() : at, h.check.id);
    }
}

// The architecture model named @p name in labs/labs.txt (`model`).
std::optional<Model> model_named(std::string_view name) {
    static const std::pair<std::string_view, Model> names[] = {
        {"single-process", Model::single_process},
        {"process-per-connection", Model::process_per_connection},
        {"event-loop", Model::event_loop},
        {"process-pool", Model::process_pool},
        {"thread-per-connection", Model::thread_per_connection},
        {"thread-pool", Model::thread_pool},
        {"descriptor-passing", Model::descriptor_passing},
        {"reactor", Model::reactor},
        {"io-uring-loop", Model::io_uring_loop},
    };
    for (const auto& [n, model] : names) {
        if (n == name) return model;
    }
    return std::nullopt;
}

// The grader's view of one lab of the manifest. Throws std::logic_error on
// a value the grader does not know (cmake/Labs.cmake checked the rest).
LabInfo from_manifest(const CourseLab& course) {
    LabInfo lab{.id = course.id, .title = course.title};
    lab.kind = course.program ? LabKind::program : LabKind::server;
    lab.model = Model::none;
    if (!course.model.empty()) {
        const auto model = model_named(course.model);
        if (!model) {
            throw std::logic_error("labs/labs.txt: lab " + std::string(course.id) +
                                   ": unknown model " + std::string(course.model));
        }
        lab.model = *model;
    }
    lab.available = course.ready && (lab.model != Model::none || lab.kind == LabKind::program);
    lab.wait_calls = course.wait_calls;
    lab.needs_eventpoll = course.eventpoll;
    lab.many_connections = course.many;
    lab.fd_setsize_limit = course.fd_setsize;
    lab.thread_cap = course.thread_cap;
    lab.workers_max = course.workers_max;
    lab.reply = course.reply == "header-line"   ? Reply::header_line
                : course.reply == "served-file" ? Reply::served_file
                                                : Reply::alphabet;
    lab.needs_io_uring = course.needs == "io_uring";
    lab.closes_with_reset = course.close_reset;
    lab.workers = course.workers;
    lab.modes = course.modes;
    for (const CourseCheck& check : course.checks) lab.checks.push_back(check.id);
    lab.scoring = course.checks;
    add_hidden_checks(lab);
    return lab;
}

}  // namespace

const std::vector<LabInfo>& labs() {
    static const std::vector<LabInfo> table = [] {
        std::vector<LabInfo> all;
        for (const CourseLab& course : course_labs()) all.push_back(from_manifest(course));
        for (const LabInfo& lab : test_labs()) all.push_back(lab);
        return all;
    }();
    return table;
}

const std::vector<CheckInfo>& checks() {
    // Each check declares itself beside its code (CSD_CHECK in
    // grader/grade/checks/*.cpp); the build lists them (check_table.cpp).
    static const std::vector<CheckInfo> table = declared_checks();
    return table;
}

const LabInfo* find_lab(std::string_view id) {
    const auto& all = labs();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const LabInfo& l) { return l.id == id; });
    return it == all.end() ? nullptr : &*it;
}

const CheckInfo* find_check(std::string_view id) {
    const auto& all = checks();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const CheckInfo& c) { return c.id == id; });
    if (it != all.end()) return &*it;
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.check.id == id) return &h.check;
    }
    return nullptr;
}

const HiddenCheck* find_hidden_check(std::string_view lab, std::string_view check) {
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.lab == lab && h.check.id == check) return &h;
    }
    return nullptr;
}

bool is_hidden_check(std::string_view check) {
    const auto& all = hidden_checks();
    return std::any_of(all.begin(), all.end(),
                       [&](const HiddenCheck& h) { return h.check.id == check; });
}

const LabMode* check_mode(const LabInfo& lab, std::string_view check) {
    // The first mode is the default: no check names it, none needs a flag.
    for (std::size_t i = 1; i < lab.modes.size(); ++i) {
        const auto& checks = lab.modes[i].checks;
        if (std::find(checks.begin(), checks.end(), check) != checks.end()) return &lab.modes[i];
    }
    return nullptr;
}

std::vector<std::string> server_args(const LabInfo& lab, std::string_view check) {
    std::vector<std::string> args;
    if (lab.workers > 0) {
        args.emplace_back("-n");
        args.push_back(std::to_string(lab.workers));
    }
    if (const LabMode* mode = check_mode(lab, check)) {
        for (const auto a : mode->args) args.emplace_back(a);
    }
    return args;
}

bool ends_with_reset(const LabInfo& lab) {
    return lab.closes_with_reset;
}

std::string handout_path(const LabInfo& lab) {
    return "labs/" + std::string(lab.id) + "/handout.md";
}

Selection select_checks(const LabInfo& lab, const std::vector<std::string>& wanted) {
    Selection sel;
    for (const auto& w : wanted) {
        if (std::find(lab.checks.begin(), lab.checks.end(), w) == lab.checks.end()) {
            std::string ids;
            for (const auto id : lab.checks) {
                if (!ids.empty()) ids += ' ';
                ids += id;
            }
            sel.error =
                "'" + w + "' is not a check of lab " + std::string(lab.id) + "; its checks: " + ids;
            return sel;
        }
    }
    for (const auto id : lab.checks) {
        const CheckInfo* check = find_check(id);
        const bool chosen = wanted.empty() || check->lifecycle == Lifecycle::first ||
                            std::find(wanted.begin(), wanted.end(), id) != wanted.end();
        if (chosen) sel.checks.push_back(check);
    }
    return sel;
}

}  // namespace csd::grade
