#include "median.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "results.hpp"
#include "servers.hpp"

using namespace csd::bench;

TEST_CASE("median: odd and even counts, any order, empty") {
    CHECK(median({3.0, 1.0, 2.0}) == 2.0);
    CHECK(median({4.0, 1.0, 3.0, 2.0}) == 2.5);
    CHECK(median({7.0}) == 7.0);
    CHECK(median({}) == 0.0);
    CHECK(median({5.0, 1.0, 100.0}) == 5.0);  // an outlier does not move it
}

namespace {

Sample sample(const char* server, double cpu_s, double elapsed_s) {
    Sample s{server, "unp", 1000, {}, {}};
    s.usage.cpu_s = cpu_s;
    s.usage.peak_rss_kib = 2048;
    s.usage.clean_exit = true;
    s.load.elapsed_s = elapsed_s;
    s.load.ok = 1000;
    s.load.client_cpu_s = 0.5;
    return s;
}

}  // namespace

TEST_CASE("rows: medians over repeats and ratios to iterative of the same profile") {
    const std::vector<Sample> samples = {sample("iterative", 0.1, 1.0), sample("fork", 3.0, 2.0),
                                         sample("iterative", 0.2, 1.0), sample("fork", 1.0, 2.0),
                                         sample("iterative", 0.3, 1.0), sample("fork", 2.0, 4.0)};
    const std::vector<Row> rows = summarize_samples(samples, {"fork"});
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].server == "iterative");
    CHECK(rows[0].repeats == 3);
    CHECK(rows[0].server_cpu_s == doctest::Approx(0.2));
    CHECK(rows[0].cpu_per_conn_us == doctest::Approx(200));
    CHECK(rows[0].overhead_vs_iterative == doctest::Approx(1.0));
    CHECK(rows[0].client_bound);  // 0.5 s of client CPU against 0.2 s of server CPU
    CHECK(rows[1].cpu_per_conn_us == doctest::Approx(2000));
    CHECK(rows[1].overhead_vs_iterative == doctest::Approx(10.0));
    CHECK(rows[1].overhead_us_per_conn == doctest::Approx(1800));
    CHECK(rows[1].conn_per_s == doctest::Approx(500));
    CHECK(rows[1].conn_per_s_vs_iterative == doctest::Approx(0.5));
    CHECK(rows[1].count_only);
    CHECK_FALSE(rows[1].client_bound);
}

TEST_CASE("rows: no iterative row, no ratio") {
    const std::vector<Row> rows = summarize_samples({sample("fork", 1.0, 1.0)}, {});
    REQUIRE(rows.size() == 1);
    CHECK(std::isnan(rows[0].overhead_vs_iterative));
}

TEST_CASE("externals: {host}/{port} replaced, else -i HOST -p PORT appended") {
    const BenchServer plain = external_server("py=python3 server01.py", true);
    CHECK(plain.name == "py");
    CHECK(plain.count_only);
    CHECK(command_line(plain, "127.0.0.1", 4242, "") ==
          std::vector<std::string>{"python3", "server01.py", "-i", "127.0.0.1", "-p", "4242"});
    const BenchServer placed = external_server("c=./serv --port={port} {host}", false);
    CHECK(command_line(placed, "::1", 7, "") ==
          std::vector<std::string>{"./serv", "--port=7", "::1"});
    CHECK_THROWS((void)external_server("no-command", false));
    CHECK_THROWS((void)external_server("=cmd", false));
}

TEST_CASE("labs: each mode of the table, a lab without a line once, unknown lab refused") {
    const auto servers = lab_servers({"iterative", "epoll"}, "/b", false);
    REQUIRE(servers.size() == 3);
    CHECK(servers[0].name == "iterative");
    CHECK(servers[0].argv == std::vector<std::string>{"/b/solution-iterative"});
    CHECK(servers[2].name == "epoll:et");
    CHECK(servers[2].argv == std::vector<std::string>{"/b/solution-epoll", "-e"});
    CHECK(lab_servers({"iterative"}, "/b", true).size() == 2);
    // The student release: skeleton-LAB built, no solution-LAB: yours alone.
    const auto release = std::filesystem::temp_directory_path() / "csd-bench-release-test";
    std::filesystem::create_directories(release);
    const auto yours = release / "skeleton-iterative";
    std::ofstream(yours) << "#!/bin/sh\n";
    std::filesystem::permissions(yours, std::filesystem::perms::owner_all);
    const auto only_yours = lab_servers({"iterative"}, release.string(), true);
    std::filesystem::remove_all(release);
    REQUIRE(only_yours.size() == 1);
    CHECK(only_yours[0].name == "iterative (yours)");
    CHECK_THROWS((void)lab_servers({"sigpipe"}, "/b", false));
}

TEST_CASE("the record of a command: a lab's program by name, the address as placeholders") {
    // sendfile's modes: the default (no flag), then -m copy, then -m splice.
    const auto servers = lab_servers({"sendfile"}, "/some/build/bin", false);
    REQUIRE(servers.size() == 3);
    CHECK(command_template(servers.front()) == std::vector<std::string>{"solution-sendfile", "-f",
                                                                        "{alphabet}", "-i",
                                                                        "{host}", "-p", "{port}"});
    CHECK(command_template(servers[1]) == std::vector<std::string>{"solution-sendfile", "-f",
                                                                   "{alphabet}", "-m", "copy", "-i",
                                                                   "{host}", "-p", "{port}"});
    CHECK(command_template(servers.back()) ==
          std::vector<std::string>{"solution-sendfile", "-f", "{alphabet}", "-m", "splice", "-i",
                                   "{host}", "-p", "{port}"});
    CHECK(command_line(servers[1], "127.0.0.1", 9, "/tmp/a") ==
          std::vector<std::string>{"/some/build/bin/solution-sendfile", "-f", "/tmp/a", "-m",
                                   "copy", "-i", "127.0.0.1", "-p", "9"});
}

TEST_CASE("rows: failures are added up and keep the first message; no client verdict then") {
    Sample failing = sample("fork", 0.1, 1.0);
    failing.load.failed = 3;
    failing.load.first_failure = "child 1, connection 2: got 0 of 4000 bytes, then EOF";
    Sample unclean = sample("fork", 0.1, 1.0);
    unclean.usage.clean_exit = false;
    unclean.usage.how = "killed by signal 9";
    const std::vector<Row> rows = summarize_samples({failing, unclean}, {});
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].failed == 3);
    CHECK(rows[0].note == "child 1, connection 2: got 0 of 4000 bytes, then EOF");
    CHECK_FALSE(rows[0].client_bound);
    const std::vector<Row> exits = summarize_samples({unclean}, {});
    CHECK(exits[0].note == "after SIGTERM the server killed by signal 9");
    CHECK(exits[0].client_bound);
}
