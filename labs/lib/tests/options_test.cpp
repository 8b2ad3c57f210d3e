#include "csd/options.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <string>
#include <vector>

namespace {

csd::ServerOptions parse(std::vector<std::string> args, bool workers = false) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return csd::parse_server_options(static_cast<int>(args.size()), argv.data(), workers);
}

}  // namespace

TEST_CASE("server options default to loopback:2000 with 10 workers") {
    const auto o = parse({"server"});
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 2000);
    CHECK(o.workers == 10);
}

TEST_CASE("server options -i -p -n") {
    const auto o = parse({"server", "-i", "0.0.0.0", "-p", "4321", "-n", "3"}, true);
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
