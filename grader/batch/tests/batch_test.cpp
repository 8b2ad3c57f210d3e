// csd-batch's pure parts: the submissions of a folder, reading the
// grader's output, the CSV and JSON summaries.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "submissions.hpp"
#include "summary.hpp"

using namespace csd::batch;
namespace fs = std::filesystem;

TEST_CASE("submissions: directories and NAME.cpp files, by name; the rest ignored") {
    char dir_template[] = "/tmp/csd-batch-test-XXXXXX";
    const fs::path dir = ::mkdtemp(dir_template);
    fs::create_directories(dir / "carol" / "skeletons" / "iterative");
    fs::create_directories(dir / "alice");
    fs::create_directories(dir / ".git");
    std::ofstream(dir / "bob.cpp") << "int main() {}\n";
    std::ofstream(dir / "alice.cpp") << "int main() {}\n";
    std::ofstream(dir / "notes.txt") << "x\n";
    std::ofstream(dir / ".cpp") << "x\n";
    const Folder f = find_submissions(dir);
    REQUIRE(f.submissions.size() == 4);
    CHECK(f.submissions[0].student == "alice");
    CHECK(f.submissions[0].source == dir / "alice");
    CHECK(f.submissions[1].student == "alice.cpp");  // the directory keeps the plain name
    CHECK(f.submissions[2].student == "bob");
    CHECK(f.submissions[2].source == dir / "bob.cpp");
    CHECK(f.submissions[3].student == "carol");
    CHECK(f.ignored == std::vector<std::string>{".cpp", ".git", "notes.txt"});
    fs::remove_all(dir);
}

TEST_CASE("results.json: score, max and points per scored check") {
    StudentResult r;
    const auto json = nlohmann::json::parse(R"({"score": 8, "max_score": 10, "tests": [
        {"name": "start", "score": 5, "max_score": 5, "status": "passed", "output": ""},
        {"name": "bytes", "score": 3, "max_score": 5, "status": "failed", "output": ""},
        {"name": "syscall", "score": 0, "max_score": 0, "status": "skipped", "output": ""}]})");
    REQUIRE(read_results(json, r));
    CHECK(r.score == 8);
    CHECK(r.max_score == 10);
    CHECK(r.points == std::map<std::string, int>{{"start", 5}, {"bytes", 3}});
    CHECK_FALSE(read_results(nlohmann::json::parse("[]"), r));
    CHECK_FALSE(
        read_results(nlohmann::json::parse(R"({"score": "x", "max_score": 1, "tests": []})"), r));
}

TEST_CASE("check lines of an interrupted grader: the checks done count") {
    StudentResult r;
    const std::string log =
        "csd-grade: lab iterative (x), server y\n"
        "PASS  start             5/5\n"
        "FAIL  bytes             0/15\n"
        "  saw: PASS  fake        9/9\n"
        "PASS  a-very-long-check-id 10/10\n";
    CHECK(read_check_lines(log, r) == 3);
    CHECK(r.score == 15);
    CHECK(r.points ==
          std::map<std::string, int>{{"start", 5}, {"bytes", 0}, {"a-very-long-check-id", 10}});
}

TEST_CASE("first error line") {
    CHECK(first_error_line("c++ /home/errors/x.cpp\n\nx.cpp:1: warning: w\nx.cpp:2: error: e\n"
                           "more error: f\n") == "x.cpp:2: error: e");
    CHECK(first_error_line("x.o: undefined reference to `f'\n") ==
          "x.o: undefined reference to `f'");
    CHECK(first_error_line("command\nno luck\n\n") == "no luck");
    CHECK(first_error_line("") == "");
    CHECK(first_error_line("error: " + std::string(300, 'x'), 10) == "error: xxx");
}

TEST_CASE("CSV: quoted fields, a column per check, empty when not scored") {
    CHECK(csv_field("plain") == "plain");
    CHECK(csv_field("a,b") == "\"a,b\"");
    CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    const LabColumns lab{.lab = "iterative", .checks = {{"start", 5}, {"bytes", 15}}};
    CHECK(lab.max_score() == 20);
    std::vector<StudentResult> results(2);
    results[0] = {.student = "ann, b",
                  .status = Status::built,
                  .score = 20,
                  .max_score = 20,
                  .points = {{"start", 5}, {"bytes", 15}},
                  .seconds = 3.14};
    results[1] = {.student = "bob",
                  .status = Status::build_error,
                  .max_score = 20,
                  .message = "x.cpp:1: error: e"};
    CHECK(summary_csv(lab, results) ==
          "student,status,score,max_score,start,bytes,seconds\n"
          "\"ann, b\",built,20,20,5,15,3.1\n"
          "bob,build-error,0,20,,,0.0\n");
    const auto json = summary_json(lab, results);
    CHECK(json["max_score"] == 20);
    CHECK(json["checks"][1]["id"] == "bytes");
    CHECK(json["students"][0]["checks"]["bytes"] == 15);
    CHECK(json["students"][1]["status"] == "build-error");
    CHECK(json["students"][1]["checks"]["start"].is_null());
    CHECK(json["students"][1]["message"] == "x.cpp:1: error: e");
}
