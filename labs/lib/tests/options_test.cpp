#include "csd/options.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

csd::ServerOptions parse(std::vector<std::string> args, const csd::CommandLine& line = {}) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return csd::parse_server_options(static_cast<int>(args.size()), argv.data(), line);
}

/// A lab with workers, a boolean flag -e and a flag -m MODE.
const csd::CommandLine pool_lab{.workers = true,
                                .flags = {{.letter = 'e', .help = "edge-triggered"},
                                          {.letter = 'm',
                                           .help = "how workers accept",
                                           .value_name = "MODE",
                                           .choices = {"lock", "nolock"},
                                           .default_value = "lock"}}};

/// Runs parse(@p args, @p line) in a child with stdout and stderr sent to
/// @p out; returns its exit status (0 when parse returned).
int exit_status(std::vector<std::string> args, const csd::CommandLine& line, const char* out) {
    std::fflush(nullptr);  // the child must not print our buffered output again
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        (void)std::freopen(out, "w", stdout);
        (void)std::freopen(out, "a", stderr);
        (void)parse(std::move(args), line);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("server options default to loopback:2000 with 10 workers") {
    const auto o = parse({"server"});
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 2000);
    CHECK(o.workers == 10);
}

TEST_CASE("server options -i -p -n") {
    const auto o = parse({"server", "-i", "0.0.0.0", "-p", "4321", "-n", "3"}, {.workers = true});
    CHECK(o.host == "0.0.0.0");
    CHECK(o.port == 4321);
    CHECK(o.workers == 3);
}

TEST_CASE("bad server options exit with status 2") {
    // Exercised in a child: parse_server_options() exits on errors.
    for (std::vector<std::string> bad : {std::vector<std::string>{"s", "-p", "0"},
                                         {"s", "-p", "70000"},
                                         {"s", "-p", "12ab"},
                                         {"s", "-n", "3"},
                                         {"s", "extra"}}) {
        CAPTURE(bad.back());
        std::fflush(nullptr);  // the child must not print our buffered output again
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            std::freopen("/dev/null", "w", stderr);
            parse(bad);
            ::_exit(0);
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 2);
    }
}

TEST_CASE("lab flags: boolean, and a value from a set of names with a default") {
    const auto none = parse({"server", "-n", "4"}, pool_lab);
    CHECK(none.workers == 4);
    CHECK_FALSE(none.flag('e'));
    CHECK_FALSE(none.flag('m'));
    CHECK(none.value('m') == "lock");
    const auto both = parse({"server", "-e", "-m", "nolock", "-p", "3000"}, pool_lab);
    CHECK(both.flag('e'));
    CHECK(both.flag('m'));
    CHECK(both.value('m') == "nolock");
    CHECK(both.port == 3000);
    CHECK(both.value('x').empty());
}

TEST_CASE("lab flags are validated like the others and listed by -h") {
    char path[] = "/tmp/csd-options-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    CHECK(exit_status({"s", "-m", "fast"}, pool_lab, path) == 2);  // not a choice
    CHECK(exit_status({"s", "-m"}, pool_lab, path) == 2);          // no value
    CHECK(exit_status({"s", "-e"}, {}, path) == 2);                // not this lab's flag
    CHECK(exit_status({"s", "-h"}, pool_lab, path) == 0);
    std::string help;
    std::FILE* in = std::fopen(path, "r");
    REQUIRE(in != nullptr);
    for (int c = 0; (c = std::fgetc(in)) != EOF;) help += static_cast<char>(c);
    std::fclose(in);
    ::unlink(path);
    CHECK(help.find("[-n WORKERS] [-e] [-m MODE]") != std::string::npos);
    CHECK(help.find("-e          edge-triggered") != std::string::npos);
    CHECK(help.find("-m MODE     how workers accept (lock, nolock; default lock)") !=
          std::string::npos);
}

TEST_CASE("a lab flag with any_value takes any non-empty value, not an empty one") {
    const csd::CommandLine line{
        .flags = {{.letter = 'f', .help = "file", .value_name = "FILE", .any_value = true}}};
    std::vector<std::string> args{"s", "-f", "/tmp/some file"};
    const auto opts = parse(args, line);
    CHECK(opts.flag('f'));
    CHECK(opts.value('f') == "/tmp/some file");
    CHECK(exit_status({"s", "-f", ""}, line, "/dev/null") == 2);
}

TEST_CASE("a lab flag that reuses a letter is a bug in the lab: logic_error") {
    std::vector<std::string> args{"s"};
    CHECK_THROWS_AS(parse(args, {.flags = {{.letter = 'p', .help = "x"}}}), std::logic_error);
    CHECK_THROWS_AS(
        parse(args, {.flags = {{.letter = 'e', .help = "x"}, {.letter = 'e', .help = "y"}}}),
        std::logic_error);
    CHECK_THROWS_AS(parse(args, {.flags = {{.letter = 'm', .help = "x", .value_name = "M"}}}),
                    std::logic_error);
}
