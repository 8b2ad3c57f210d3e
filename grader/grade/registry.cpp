#include "registry.hpp"

#include <algorithm>

#include "checks/checks.hpp"
#include "csd/grade/course_labs.hpp"
#include "hidden.hpp"

namespace csd::grade {
namespace {

// How each gradable lab's design is recognised, and what its checks need to
// know of it; ids, titles, order, checks, points and modes come from the
// lab manifest labs/labs.txt (course_labs.hpp). The test-only labs come
// last, with their own checks (each worth its own points).
const std::vector<LabInfo>& lab_details() {
    static const std::vector<LabInfo> table = {
        {.id = "iterative", .available = true, .model = Model::single_process},
        {.id = "fork", .available = true, .model = Model::process_per_connection},
        {.id = "select",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"select", "pselect6"},
         .many_connections = 1000,
         .fd_setsize_limit = true},
        {.id = "poll",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"poll", "ppoll"},
         .many_connections = 5000},
        {.id = "epoll",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"epoll_wait", "epoll_pwait", "epoll_pwait2"},
         .needs_eventpoll = true,
         .many_connections = 10000},
        {.id = "thread",
         .available = true,
         .model = Model::thread_per_connection,
         .thread_cap = 256},
        // A pool of -n threads in three modes (labs/labs.txt: which checks
        // run in which).
        {.id = "prethread", .available = true, .model = Model::thread_pool},
        // A pool of -n processes: every mode of -m (labs/labs.txt) is
        // graded by some check.
        {.id = "prefork", .available = true, .model = Model::process_pool},
        {.id = "fdpass", .available = true, .model = Model::descriptor_passing},
        // One request per connection, then an RST: the close is the lesson.
        {.id = "rst", .available = true, .model = Model::single_process},
        // A header line and a body per reply, corked into one segment.
        {.id = "cork",
         .available = true,
         .model = Model::single_process,
         .reply = Reply::header_line},
        // The replies cycle through a random file the grader makes (-f PATH):
        // every check that reads replies checks them against it.
        {.id = "sendfile",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"epoll_wait", "epoll_pwait", "epoll_pwait2"},
         .needs_eventpoll = true,
         .reply = Reply::served_file},
        // -n event loops, a thread and an epoll instance each, in the
        // modes handoff and reuseport (labs/labs.txt).
        {.id = "reactor", .available = true, .model = Model::reactor, .many_connections = 10000},
        // io_uring (through liburing): the event loop's checks, with the
        // architecture seen as a ring and no epoll, and the idle wait in
        // io_uring_enter.
        {.id = "uring",
         .available = true,
         .model = Model::io_uring_loop,
         .wait_calls = {"io_uring_enter"},
         .many_connections = 10000,
         .needs_io_uring = true},
        // Programs, not servers (docs/contract.md section 6): each check
        // runs the program as often as it needs.
        {.id = "sigpipe", .available = true},
        {.id = "selfpipe", .available = true},
        // Test-only labs (hidden from --list and the course): they prove the
        // architecture models of the coming labs on the servers of
        // grader/broken/models.cpp until those labs have solutions.
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

}  // namespace

const std::vector<LabInfo>& labs() {
    static const std::vector<LabInfo> table = [] {
        std::vector<LabInfo> all;
        const auto& details = lab_details();
        for (const CourseLab& course : course_labs()) {
            const auto it = std::find_if(details.begin(), details.end(),
                                         [&](const LabInfo& l) { return l.id == course.id; });
            LabInfo lab = it == details.end() ? LabInfo{.id = course.id} : *it;
            lab.title = course.title;
            lab.available = course.ready && it != details.end();
            lab.kind = course.program ? LabKind::program : LabKind::server;
            lab.workers = course.workers;
            lab.modes = course.modes;
            for (const CourseCheck& check : course.checks) lab.checks.push_back(check.id);
            lab.scoring = course.checks;
            add_hidden_checks(lab);
            all.push_back(std::move(lab));
        }
        for (const LabInfo& lab : details) {
            if (lab.hidden) all.push_back(lab);
        }
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
