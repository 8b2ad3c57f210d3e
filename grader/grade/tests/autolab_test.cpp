// The Autolab autoresult line and the checks' locks (csd-batch).
#include <doctest/doctest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "check_locks.hpp"
#include "report.hpp"

using namespace csd::grade;

TEST_CASE("autolab: one score per scored check, skipped checks left out") {
    const std::vector<CheckResult> results = {
        {.id = "start", .points = 5, .max_points = 5, .passed = true},
        {.id = "zombies", .points = 0, .max_points = 5, .passed = false},
        {.id = "syscall", .max_points = 10, .skipped = true},
    };
    const auto json = autolab_json(results);
    CHECK(json.dump() == R"({"scores":{"start":5,"zombies":0}})");
    CHECK(autolab_json({}).dump() == R"({"scores":{}})");
}

TEST_CASE("check locks: the heavy checks have theirs, sorted; light checks none") {
    CHECK(check_locks("many") == std::vector<std::string_view>{"connections", "cpu"});
    CHECK(check_locks("syscall") == std::vector<std::string_view>{"cpu"});
    CHECK(check_locks("idle-cpu").empty());  // it measures only its own server, asleep
    CHECK(check_locks("start").empty());
    CHECK(check_locks("no-such-check").empty());
}

TEST_CASE("check locks: a guard holds its lock files; none without a lock directory") {
    char dir_template[] = "/tmp/csd-locks-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    REQUIRE(dir != nullptr);
    const std::string cpu = std::string(dir) + "/cpu.lock";
    {
        set_lock_dir("");
        const CheckLockGuard none("many");
        CHECK_FALSE(std::filesystem::exists(cpu));
    }
    set_lock_dir(dir);
    {
        const CheckLockGuard held("syscall");
        // Another open file description cannot take the lock meanwhile.
        const int fd = ::open(cpu.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
        CHECK(::flock(fd, LOCK_EX | LOCK_NB) != 0);
        ::close(fd);
    }
    const int fd = ::open(cpu.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) == 0);  // released with the guard
    ::close(fd);
    set_lock_dir("");
    std::filesystem::remove_all(dir);
}
