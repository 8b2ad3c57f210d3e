// The reader of `perf script -F pid,tid,event,trace` (perf_calls.hpp): the
// lines perf prints for system call entries and task ends, and the lines
// it prints around them that are not events.
#include <doctest/doctest.h>

#include <string>

#include "perf_calls.hpp"

using namespace csd::grade;

TEST_CASE("perf script: system call entries with their fields") {
    const auto events = parse_perf_script(
        "'trace' not valid for hardware events. Ignoring.\n"
        "         17906/17906 syscalls:sys_enter_setsockopt: fd: 0x00000003, level: 0x00000006, "
        "optname: 0x00000003, optval: 0x7fff9bbcd410, optlen: 0x00000004\n"
        "  17906/17911      syscalls:sys_enter_sendto: fd: 0x00000007, buff: 0x7f8bd75508c8, "
        "len: 0x00000005, flags: 0x00008000, addr: 0x00000000, addr_len: 0x00000000\n"
        "17906/17906 syscalls:sys_enter_getppid:\n"
        "17906/17906 syscalls:sys_enter_epoll_wait: epfd: 0x00000004, events: 0x1, "
        "maxevents: 0x00000040, timeout: 0xffffffff\n");
    REQUIRE(events.size() == 4);
    CHECK(events[0].pid == 17906);
    CHECK(events[0].tid == 17906);
    CHECK(events[0].name == "setsockopt");
    CHECK(events[0].fd() == 3);
    CHECK(events[0].field("level") == 6);
    CHECK(events[0].field("optname") == 3);
    CHECK(events[1].tid == 17911);
    CHECK(events[1].name == "sendto");
    CHECK(events[1].field("len") == 5);
    CHECK(events[1].field("flags") == 0x8000);
    CHECK(events[1].field("missing", 42) == 42);
    CHECK(events[2].name == "getppid");
    CHECK(events[2].fields.empty());
    CHECK(events[2].fd() == -1);
    CHECK(events[3].fd() == 4);
}

TEST_CASE("perf script: a task's end, whatever its name holds") {
    const auto events = parse_perf_script(
        "  200/203 sched:sched_process_exit: comm=csd pool 3 pid=203 prio=120 group_dead=false\n"
        "  200/200 sched:sched_process_exit: comm=server pid=200 prio=120 group_dead=true\n");
    REQUIRE(events.size() == 2);
    CHECK(events[0].name == "task-exit");
    CHECK(events[0].tid == 203);
    CHECK(events[0].field("pid") == 203);
    CHECK(events[0].field("group_dead", 7) == 0);
    CHECK(events[1].field("group_dead") == 1);
}

TEST_CASE("perf script: other lines and other events are left out") {
    CHECK(parse_perf_script("").empty());
    CHECK(parse_perf_script("no events\n\n   \n").empty());
    CHECK(parse_perf_script("12/12 sched:sched_switch: prev_comm=a prev_pid=12\n").empty());
    CHECK(parse_perf_script("x/12 syscalls:sys_enter_write: fd: 0x1\n").empty());
}
