// The lab and check tables, and check selection.
#include "registry.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "checks/modes.hpp"
#include "csd/grade/course_labs.hpp"
#include "report.hpp"

using namespace csd::grade;

TEST_CASE("every lab of the manifest is listed, and nothing else is") {
    for (const CourseLab& course : course_labs()) {
        CAPTURE(course.id);
        const LabInfo* lab = find_lab(course.id);
        REQUIRE(lab != nullptr);
        CHECK_FALSE(lab->hidden);
    }
    // Among them the labs of docs/contract.md section 4, and those after it.
    for (const char* id :
         {"iterative", "fork", "select", "poll", "epoll", "thread", "prethread", "prefork",
          "fdpass", "rst", "sigpipe", "selfpipe", "sendfile", "cork", "reactor", "uring"}) {
        CAPTURE(id);
        CHECK(find_lab(id) != nullptr);
    }
    CHECK(find_lab("nope") == nullptr);
}

TEST_CASE("the labs whose connections end with an RST say so in the manifest") {
    // labs/labs.txt `close reset`: the rst lab, whose rst check wants one.
    for (const auto& lab : labs()) {
        CAPTURE(lab.id);
        const bool rst_check =
            std::find(lab.checks.begin(), lab.checks.end(), "rst") != lab.checks.end();
        CHECK(ends_with_reset(lab) == rst_check);
    }
    REQUIRE(find_lab("rst") != nullptr);
    CHECK(ends_with_reset(*find_lab("rst")));
    CHECK_FALSE(ends_with_reset(*find_lab("iterative")));
}

TEST_CASE("available labs start with start, end with sigterm, and name known checks") {
    for (const auto& lab : labs()) {
        if (!lab.available) {
            CHECK(lab.checks.empty());
            continue;
        }
        CAPTURE(lab.id);
        REQUIRE(!lab.checks.empty());
        // A program is no server: it has no start, no sigterm and no
        // server-only check (the runner starts nothing for it).
        const bool program = lab.kind == LabKind::program;
        CHECK((lab.checks.front() == "start") != program);
        CHECK((lab.checks.back() == "sigterm") != program);
        if (program) {
            for (const auto id : {"start", "sigterm", "fd-leak", "architecture", "bytes"}) {
                CHECK(std::find(lab.checks.begin(), lab.checks.end(), id) == lab.checks.end());
            }
        }
        std::set<std::string_view> unique(lab.checks.begin(), lab.checks.end());
        CHECK(unique.size() == lab.checks.size());
        for (const auto id : lab.checks) CHECK(find_check(id) != nullptr);
    }
}

TEST_CASE("own points of the checks") {
    CHECK(find_check("bytes")->points == 15);
    CHECK(find_check("start")->points == 5);
}

TEST_CASE("lab specifics") {
    CHECK(find_lab("select")->many_connections == 1000);
    CHECK(find_lab("select")->fd_setsize_limit);
    CHECK(find_lab("poll")->many_connections == 5000);
    CHECK(find_lab("epoll")->many_connections == 10000);
    CHECK(find_lab("epoll")->needs_eventpoll);
    CHECK(find_lab("iterative")->model == Model::single_process);
    CHECK(find_lab("fork")->model == Model::process_per_connection);
    // The rest of what the checks need, from labs/labs.txt too.
    CHECK(find_lab("thread")->thread_cap == 256);
    CHECK(find_lab("reactor")->workers_max == 64);
    CHECK(find_lab("prethread")->workers_max == 0);
    CHECK(find_lab("cork")->reply == Reply::header_line);
    CHECK(find_lab("sendfile")->reply == Reply::served_file);
    CHECK(find_lab("iterative")->reply == Reply::alphabet);
    CHECK(find_lab("uring")->needs_io_uring);
    CHECK_FALSE(find_lab("epoll")->needs_io_uring);
    CHECK(find_lab("prethread")->workers == 8);
    CHECK(find_lab("sigpipe")->kind == LabKind::program);
    for (const LabInfo& lab : labs()) {
        CAPTURE(lab.id);
        // Every gradable server has a model; a program needs none.
        if (lab.available) CHECK((lab.model != Model::none) == (lab.kind == LabKind::server));
    }
    const auto& iterative = find_lab("iterative")->checks;
    CHECK(std::find(iterative.begin(), iterative.end(), "concurrency") == iterative.end());
    CHECK(handout_path(*find_lab("poll")) == "labs/poll/handout.md");
}

TEST_CASE("select_checks keeps start and the lab's order") {
    const LabInfo& lab = *find_lab("fork");
    const auto all = select_checks(lab, {});
    CHECK(all.error.empty());
    CHECK(all.checks.size() == lab.checks.size());

    const auto some = select_checks(lab, {"sigterm", "zombies"});
    REQUIRE(some.error.empty());
    REQUIRE(some.checks.size() == 3);
    CHECK(some.checks[0]->id == "start");
    CHECK(some.checks[1]->id == "zombies");
    CHECK(some.checks[2]->id == "sigterm");

    const auto bad = select_checks(lab, {"syscall"});
    CHECK(bad.checks.empty());
    CHECK(bad.error.find("not a check of lab fork") != std::string::npos);
}

TEST_CASE("the labs follow labs/labs.txt: ids, titles, order and status") {
    const auto& all = labs();
    REQUIRE(all.size() >= course_labs().size());
    for (std::size_t i = 0; i < course_labs().size(); ++i) {
        CAPTURE(course_labs()[i].id);
        CHECK(all[i].id == course_labs()[i].id);
        CHECK(all[i].title == course_labs()[i].title);
        CHECK(all[i].available == course_labs()[i].ready);
        CHECK_FALSE(all[i].hidden);
    }
    for (std::size_t i = course_labs().size(); i < all.size(); ++i) {
        CAPTURE(all[i].id);
        CHECK(all[i].hidden);
    }
}

TEST_CASE("hidden test-only labs are gradable but not listed") {
    const LabInfo* pool = find_lab("test-pool");
    REQUIRE(pool != nullptr);
    CHECK(pool->available);
    CHECK(pool->model == Model::process_pool);
    CHECK(format_list().find("test-pool") == std::string::npos);
    CHECK(format_list().find("Test only") == std::string::npos);
}

TEST_CASE("server arguments: -n for a pool, then the flags of the check's mode") {
    CHECK(server_args(*find_lab("fork"), "bytes").empty());
    CHECK(server_args(*find_lab("test-pool"), "bytes") == std::vector<std::string>{"-n", "4"});
    const LabInfo lab{.id = "x",
                      .workers = 3,
                      .modes = {{.name = "plain", .args = {"-m", "plain"}},
                                {.name = "edge", .args = {"-e"}, .checks = {"many", "bytes"}}}};
    // The default mode is started without its flags.
    CHECK(server_args(lab, "pipeline") == std::vector<std::string>{"-n", "3"});
    CHECK(check_mode(lab, "pipeline") == nullptr);
    CHECK(server_args(lab, "many") == std::vector<std::string>{"-n", "3", "-e"});
    REQUIRE(check_mode(lab, "bytes") != nullptr);
    CHECK(check_mode(lab, "bytes")->name == "edge");
}

TEST_CASE("the manifest's modes: every mode check is a check of its lab, in one mode") {
    for (const LabInfo& lab : labs()) {
        CAPTURE(lab.id);
        std::set<std::string_view> seen;
        for (std::size_t i = 0; i < lab.modes.size(); ++i) {
            CAPTURE(lab.modes[i].name);
            // The default runs whatever no other mode names; the others need a
            // flag (and, for a server, checks: a program's checks run every mode).
            if (lab.kind == LabKind::server) CHECK(lab.modes[i].checks.empty() == (i == 0));
            CHECK(lab.modes[i].args.empty() == (i == 0 && lab.modes[i].args.empty()));
            for (const auto id : lab.modes[i].checks) {
                CAPTURE(id);
                CHECK(std::find(lab.checks.begin(), lab.checks.end(), id) != lab.checks.end());
                CHECK(seen.insert(id).second);
                const CheckInfo* check = find_check(id);
                REQUIRE(check != nullptr);
                CHECK(check->lifecycle != Lifecycle::first);  // start judges the default
            }
        }
    }
    // The modes that were benchmarked but never graded are graded now.
    const LabInfo& epoll = *find_lab("epoll");
    REQUIRE(epoll.modes.size() == 2);
    CHECK(check_mode(epoll, "bytes") != nullptr);
}

TEST_CASE("the checks' declarations: lifecycle and locks") {
    CHECK(find_check("start")->lifecycle == Lifecycle::first);
    CHECK(find_check("sigterm")->lifecycle == Lifecycle::ends_server);
    CHECK(find_check("distribution")->lifecycle == Lifecycle::ends_server);
    CHECK(find_check("bytes")->lifecycle == Lifecycle::serves);
    for (const CheckInfo& check : checks()) {
        CAPTURE(check.id);
        for (const auto lock : check.locks) CHECK((lock == "cpu" || lock == "connections"));
    }
}

TEST_CASE("every lab with several modes has its modes graded, each with its evidence") {
    for (const LabInfo& lab : labs()) {
        if (lab.hidden || lab.modes.size() < 2) continue;
        CAPTURE(lab.id);
        const bool graded =
            std::find(lab.checks.begin(), lab.checks.end(), "modes") != lab.checks.end();
        if (!graded) {
            // Or each other mode runs a check of its own, MODE-mode, that
            // sees it at work (sendfile: copy-mode; the default mode is
            // the lab's lesson checks).
            for (std::size_t i = 1; i < lab.modes.size(); ++i) {
                const std::string own = std::string(lab.modes[i].name) + "-mode";
                CAPTURE(own);
                CHECK(std::find(lab.modes[i].checks.begin(), lab.modes[i].checks.end(), own) !=
                      lab.modes[i].checks.end());
            }
            continue;
        }
        // A program (selfpipe) has no server model: Model::none.
        const Model model = lab.kind == LabKind::program ? Model::none : lab.model;
        for (const LabMode& mode : lab.modes) {
            CAPTURE(mode.name);
            CHECK_FALSE(modes::evidence(model, mode.name).empty());
        }
    }
    CHECK(modes::evidence(Model::process_pool, "nope").empty());
    // The herd: prefork's select and epoll wake every idle worker; the
    // exclusive and locked modes, and other designs, do not.
    CHECK(modes::wakes_every_worker(Model::process_pool, "select"));
    CHECK(modes::wakes_every_worker(Model::process_pool, "epoll"));
    CHECK_FALSE(modes::wakes_every_worker(Model::process_pool, "epoll-exclusive"));
    CHECK_FALSE(modes::wakes_every_worker(Model::process_pool, "accept"));
    CHECK_FALSE(modes::wakes_every_worker(Model::thread_pool, "nolock"));
}
