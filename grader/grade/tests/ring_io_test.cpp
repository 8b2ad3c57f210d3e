// ring-io's reading of strace text: which socket calls a server made itself.
#include <doctest/doctest.h>

#include <string>

#include "checks/checks.hpp"
#include "trace.hpp"

using csd::grade::ring_io_socket_calls;

TEST_CASE("ring-io counts the socket calls of every strace -f line shape") {
    const std::string text =
        "read(5, \"40\\n\", 16384) = 3\n"
        "[pid  4242] sendto(7, \"abc\"..., 4000, MSG_NOSIGNAL, NULL, 0) = 4000\n"
        "4243 accept4(3, NULL, NULL, SOCK_CLOEXEC) = -1 EAGAIN (Resource temporarily "
        "unavailable)\n"
        "recvfrom(9,  <unfinished ...>\n"
        "<... recvfrom resumed>\"x\", 1, 0, NULL, NULL) = 1\n";
    const auto calls = ring_io_socket_calls(text);
    CHECK(calls.size() == 4);
    CHECK(calls.at("read") == 1);
    CHECK(calls.at("sendto") == 1);
    CHECK(calls.at("accept4") == 1);   // a failed call counts too
    CHECK(calls.at("recvfrom") == 1);  // the resumed half is not a second call
}

TEST_CASE("ring-io leaves out stdin, stdout, stderr and strace's own lines") {
    const std::string text =
        "write(2, \"server: too many open files\\n\", 29) = 29\n"
        "strace: Process 4242 attached\n"
        "+++ exited with 0 +++\n"
        "--- SIGTERM {si_signo=SIGTERM} ---\n";
    CHECK(ring_io_socket_calls(text).empty());
}

TEST_CASE("ring-io sees nothing in an empty trace") {
    CHECK(ring_io_socket_calls("").empty());
}

TEST_CASE("a server that looks for its tracer is seen in the trace") {
    using csd::grade::tracer_probe;
    // The pid of no process: only the lines are read.
    constexpr pid_t nobody = 0x3fffffff;
    CHECK(!tracer_probe("openat(AT_FDCWD, \"/proc/self/status\", O_RDONLY|O_CLOEXEC) = 9\n", nobody)
               .empty());
    CHECK(!tracer_probe("[pid  77] open(\"/proc/77/task/78/status\", O_RDONLY) = 4\n", nobody)
               .empty());
    CHECK(!tracer_probe("ptrace(PTRACE_TRACEME) = -1 EPERM (Operation not permitted)\n", nobody)
               .empty());
    CHECK(tracer_probe("openat(AT_FDCWD, \"/proc/self/maps\", O_RDONLY) = 9\n"
                       "sendfile(7, 5, [0] => [65536], 65536) = 65536\n",
                       nobody)
              .empty());
    CHECK(csd::grade::is_tracer_probe_call("openat"));
    CHECK(!csd::grade::is_tracer_probe_call("sendfile"));
}
