// What the races check reads in ThreadSanitizer's reports (checks/races.hpp).
#include "checks/races.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace csd::grade;

namespace {

// A data race as gcc's libtsan prints it (the shape of broken_racy.cpp's).
const std::string race =
    "==================\n"
    "WARNING: ThreadSanitizer: data race (pid=4242)\n"
    "  Write of size 1 at 0x7b0400000024 by thread T1:\n"
    "    #0 worker_body /home/s/csdesign/skeletons/thread/server.cpp:68 (skeleton-thread+0x477d)\n"
    "\n"
    "  Previous read of size 1 at 0x7b0400000024 by main thread:\n"
    "    #0 is_done /home/s/csdesign/skeletons/thread/server.cpp:55 (skeleton-thread+0x4297)\n"
    "    #1 main /home/s/csdesign/skeletons/thread/server.cpp:88 (skeleton-thread+0x4297)\n"
    "\n"
    "  Location is heap block of size 16 at 0x7b0400000020 allocated by main thread:\n"
    "    #0 operator new(unsigned long) ../../../../src/libsanitizer/tsan/tsan_new_delete.cpp:64 "
    "(libtsan.so.2+0x87323)\n"
    "    #1 main /home/s/csdesign/skeletons/thread/server.cpp:106 (skeleton-thread+0x3fb2)\n"
    "\n"
    "  Thread T1 (tid=4247, running) created by main thread at:\n"
    "    #0 pthread_create ../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:1001 "
    "(libtsan.so.2+0x5e686)\n"
    "    #1 main /home/s/csdesign/skeletons/thread/server.cpp:108 (skeleton-thread+0x4025)\n"
    "\n"
    "SUMMARY: ThreadSanitizer: data race /home/s/csdesign/skeletons/thread/server.cpp:68 in "
    "worker_body\n"
    "==================\n";

}  // namespace

TEST_CASE("races: no report, no finding") {
    CHECK(races::first_report("").empty());
    CHECK(races::first_report("Listening on 127.0.0.1:2000\nserver: accept: EMFILE\n").empty());
}

TEST_CASE("races: the first report's accesses, threads and summary, without directories") {
    const std::string text = races::first_report("server log line\n" + race);
    CHECK(text ==
          "ThreadSanitizer reported 1 problem; the first, a data race:\n"
          "  Write of size 1 by thread T1: worker_body server.cpp:68\n"
          "  Previous read of size 1 by main thread: is_done server.cpp:55\n"
          "  Thread T1 (tid=4247, running) created by main thread: main server.cpp:108\n"
          "  SUMMARY: data race server.cpp:68 in worker_body");
}

TEST_CASE("races: reports are counted, the first one told") {
    const std::string leak =
        "==================\n"
        "WARNING: ThreadSanitizer: thread leak (pid=4242)\n"
        "  Thread T3 (tid=4250, finished) created by main thread at:\n"
        "    #0 pthread_create ../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:1001 "
        "(libtsan.so.2+0x5e686)\n"
        "    #1 main /x/server.cpp:100 (server+0x3ffe)\n"
        "\n"
        "SUMMARY: ThreadSanitizer: thread leak /x/server.cpp:100 in main\n"
        "==================\n";
    const std::string text = races::first_report(race + leak);
    CHECK(text.starts_with("ThreadSanitizer reported 2 problems; the first, a data race:"));
    CHECK(races::first_report(leak) ==
          "ThreadSanitizer reported 1 problem; the first, a thread leak:\n"
          "  Thread T3 (tid=4250, finished) created by main thread: main server.cpp:100\n"
          "  SUMMARY: thread leak server.cpp:100 in main");
}

TEST_CASE("races: a runtime that cannot start is not the server's fault") {
    CHECK(races::runtime_failed("FATAL: ThreadSanitizer: unexpected memory mapping 0x7f...\n"));
    CHECK_FALSE(races::runtime_failed(race));
}
