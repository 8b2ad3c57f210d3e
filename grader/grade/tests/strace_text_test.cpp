// The one reader of strace output (strace_text.hpp): every line shape of
// `strace -f` (padded or not, pid prefixes, -y decorations, split calls,
// errors), and what zero-copy, cork and ring-io read from it.
#include <doctest/doctest.h>

#include <string>

#include "checks/checks.hpp"
#include "strace_text.hpp"

using namespace csd::grade;

TEST_CASE("strace lines: padded and unpadded results are the same call") {
    // strace pads a short line to column 40 before " = ".
    const auto calls = parse_strace(
        "sendfile(5, 6, NULL, 65536)     = 65536\n"
        "sendfile(5, 6, [0] => [1048576], 1048576) = 1048576\n"
        "sendfile(5, 6, NULL, 1048576)\t= 1048576\n"
        "sendfile(5, 6, NULL, 7)=7\n");
    REQUIRE(calls.size() == 4);
    CHECK(calls[0].name == "sendfile");
    CHECK(calls[0].pid == 0);
    CHECK(calls[0].args == "5, 6, NULL, 65536");
    CHECK(calls[0].result == "65536");
    CHECK(calls[0].value == 65536);
    CHECK(calls[0].succeeded());
    CHECK(calls[0].fd() == 5);
    CHECK(calls[1].args == "5, 6, [0] => [1048576], 1048576");
    CHECK(calls[1].value == 1048576);
    CHECK(calls[2].value == 1048576);
    CHECK(calls[3].value == 7);
    const auto bytes = strace_bytes_per_call(
        "sendfile(5, 6, NULL, 65536)     = 65536\n"
        "splice(7, NULL, 5, NULL, 4096, SPLICE_F_MOVE) = 4096\n"
        "splice(7, NULL, 5, NULL, 4, 0)  = 4\n");
    CHECK(bytes.at("sendfile") == 65536);
    CHECK(bytes.at("splice") == 4100);
}

TEST_CASE("strace lines: [pid N] and leading pid prefixes") {
    const auto calls = parse_strace(
        "[pid  4242] sendfile(5, 6, NULL, 4096) = 4096\n"
        "[pid 123456] write(7, \"x\", 1)    = 1\n"
        "4243  read(5, \"16\\n\", 65536)   = 3\n");
    REQUIRE(calls.size() == 3);
    CHECK(calls[0].pid == 4242);
    CHECK(calls[0].name == "sendfile");
    CHECK(calls[1].pid == 123456);
    CHECK(calls[1].fd() == 7);
    CHECK(calls[2].pid == 4243);
    CHECK(calls[2].name == "read");
    CHECK(calls[2].args == "5, \"16\\n\", 65536");
}

TEST_CASE("strace lines: -y decorations stay in the arguments, the descriptors are read") {
    const auto calls = parse_strace(
        "sendfile(5<TCP:[127.0.0.1:2000->127.0.0.1:40000]>, 6</tmp/csd (1)/file>, NULL, "
        "65536) = 65536\n"
        "[pid  77] sendto(8<TCPv6:[[::1]:2000->[::1]:40001]>, \"a)b\", 3, MSG_NOSIGNAL, NULL, "
        "0) = 3\n"
        "accept4(3<TCP:[127.0.0.1:2000]>, NULL, NULL, SOCK_CLOEXEC) = 9<TCP:[127.0.0.1:2000->"
        "127.0.0.1:40002]>\n"
        "openat(AT_FDCWD</work>, \"f\", O_RDONLY) = 4</work/f>\n"
        "read(0</dev/null<char 1:3>>, \"\", 10) = 0\n");
    REQUIRE(calls.size() == 5);
    CHECK(calls[0].fd() == 5);
    CHECK(calls[0].value == 65536);
    const auto args = calls[0].arguments();
    REQUIRE(args.size() == 4);
    CHECK(args[0] == "5<TCP:[127.0.0.1:2000->127.0.0.1:40000]>");
    CHECK(args[1] == "6</tmp/csd (1)/file>");
    CHECK(args[2] == "NULL");
    CHECK(args[3] == "65536");
    CHECK(calls[1].fd() == 8);
    CHECK(calls[1].arguments().size() == 6);
    CHECK(calls[1].value == 3);
    CHECK(calls[2].fd() == 3);
    CHECK(calls[2].value == 9);  // the decorated result is the descriptor
    CHECK(calls[3].fd() == -1);  // AT_FDCWD is no number
    CHECK(calls[3].value == 4);
    CHECK(calls[4].fd() == 0);
    CHECK(calls[4].value == 0);
    const auto out =
        parse_output_calls("write(4<TCP:[127.0.0.1:2000->127.0.0.1:40000]>, \"1000\\n\", 5) = 5\n");
    REQUIRE(out.size() == 1);
    CHECK(out[0].fd == 4);
    CHECK(out[0].result == 5);
}

TEST_CASE("strace lines: a call split by another thread is joined per thread") {
    // As strace 6 printed two threads of a server (-y left out, then in).
    const std::string text =
        "[pid  9599] sendfile(3<socket:[39047]>, 5</etc/services>, [0] <unfinished ...>\n"
        "[pid  9605] read(4<socket:[39048]>,  <unfinished ...>\n"
        "[pid  9599] <... sendfile resumed> => [100], 100) = 100\n"
        "[pid  9599] sendfile(3, 5, NULL, 4096 <unfinished ...>\n"
        "[pid  9605] <... read resumed>\"# Network services\"..., 65536) = 4196\n"
        "[pid  9599] <... sendfile resumed>)     = 4096\n";
    const auto calls = parse_strace(text);
    REQUIRE(calls.size() == 3);  // in the order they started
    CHECK(calls[0].pid == 9599);
    CHECK(calls[0].name == "sendfile");
    CHECK(calls[0].args == "3<socket:[39047]>, 5</etc/services>, [0] => [100], 100");
    CHECK(calls[0].value == 100);
    CHECK(calls[1].pid == 9605);
    CHECK(calls[1].name == "read");
    CHECK(calls[1].args == "4<socket:[39048]>, \"# Network services\"..., 65536");
    CHECK(calls[1].fd() == 4);
    CHECK(calls[1].value == 4196);
    CHECK(calls[2].args == "3, 5, NULL, 4096");
    CHECK(calls[2].value == 4096);
    for (const auto& call : calls) {
        CHECK(call.entered);
        CHECK(call.returned);
    }
    const auto bytes = strace_bytes_per_call(text);
    CHECK(bytes.at("sendfile") == 4196);
    CHECK(bytes.at("read") == 4196);
}

TEST_CASE("strace lines: a call resumed without the thread's prefix still joins its start") {
    // "[pid N] " is printed only while several threads are traced: the
    // other thread exited between the two halves.
    const auto calls = parse_strace(
        "[pid  10] sendfile(5, 6, NULL, 1048576 <unfinished ...>\n"
        "[pid  11] +++ exited with 0 +++\n"
        "<... sendfile resumed>)                 = 1048576\n");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].pid == 10);
    CHECK(calls[0].value == 1048576);
    CHECK(calls[0].fd() == 5);
}

TEST_CASE("strace lines: halves with no other half") {
    const auto calls = parse_strace(
        "<... sendfile resumed>)     = 65536\n"            // started before strace attached
        "[pid  12] write(9, \"ab\", 2 <unfinished ...>\n"  // never resumed
        "read(0,  <detached ...>\n");                      // strace left while it waited
    REQUIRE(calls.size() == 3);
    CHECK_FALSE(calls[0].entered);
    CHECK(calls[0].returned);
    CHECK(calls[0].value == 65536);
    CHECK(calls[0].fd() == -1);
    CHECK(calls[1].entered);
    CHECK_FALSE(calls[1].returned);
    CHECK(calls[1].args == "9, \"ab\", 2");
    CHECK(calls[1].fd() == 9);
    CHECK_FALSE(calls[1].succeeded());
    CHECK_FALSE(calls[2].returned);
    CHECK(calls[2].args == "0");
    // Bytes count on the resumed half alone; a call with no end moved none.
    const auto bytes = strace_bytes_per_call(
        "<... sendfile resumed>)     = 65536\n"
        "write(9, \"ab\", 2 <unfinished ...>\n");
    CHECK(bytes.size() == 1);
    CHECK(bytes.at("sendfile") == 65536);
}

TEST_CASE("strace lines: errors and unknown results") {
    const auto calls = parse_strace(
        "sendfile(5, 6, NULL, 65536)     = -1 EAGAIN (Resource temporarily unavailable)\n"
        "[pid  5] <... sendfile resumed> <unfinished ...>) = ?\n"
        "epoll_wait(4, [], 64, -1)       = ? ERESTARTSYS (To be restarted if SA_RESTART is "
        "set)\n"
        "exit_group(0)                   = ?\n"
        "umask(022)                      = 022\n"
        "brk(NULL)                       = 0x55d0c6a4e000\n");
    REQUIRE(calls.size() == 6);
    CHECK(calls[0].value == -1);
    CHECK(calls[0].error == "EAGAIN");
    CHECK(calls[0].result == "-1 EAGAIN (Resource temporarily unavailable)");
    CHECK_FALSE(calls[0].succeeded());
    CHECK_FALSE(calls[1].entered);
    CHECK(calls[1].result == "?");
    CHECK_FALSE(calls[1].value);
    CHECK_FALSE(calls[1].succeeded());
    CHECK_FALSE(calls[2].value);
    CHECK(calls[2].error == "ERESTARTSYS");
    CHECK_FALSE(calls[3].value);
    CHECK(calls[3].error.empty());
    CHECK(calls[4].value == 18);
    CHECK(calls[5].value == 0x55d0c6a4e000LL);
    CHECK(strace_bytes_per_call(
              "sendfile(5, 6, NULL, 65536)     = -1 EAGAIN (Resource temporarily unavailable)\n")
              .empty());
}

TEST_CASE("strace lines: strace's own lines, exits and signals are no calls") {
    const std::string text =
        "strace: Process 4242 attached\n"
        "+++ exited with 0 +++\n"
        "[pid  4243] +++ exited with 0 +++\n"
        "+++ killed by SIGKILL +++\n"
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=7, si_status=0} ---\n"
        "[pid  4242] --- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER} ---\n"
        "strace: Process 4242 detached\n"
        "\n";
    CHECK(parse_strace(text).empty());
    CHECK(parse_strace("").empty());
    CHECK(strace_bytes_per_call(text).empty());
    CHECK(parse_output_calls(text).empty());
    CHECK(ring_io_socket_calls(text).empty());
}

TEST_CASE("strace lines: text inside strings does not end the arguments") {
    const auto calls = parse_strace(
        "write(2, \"log (a) = 3 <unfinished ...>\\\"\\n\", 29) = 29\n"
        "write(2, \"x\", 1 <unfinished ...>\n"
        "<... write resumed>)            = 1\n");
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].args == "2, \"log (a) = 3 <unfinished ...>\\\"\\n\", 29");
    CHECK(calls[0].value == 29);
    CHECK(calls[0].arguments().size() == 3);
    CHECK(calls[1].value == 1);
}

TEST_CASE("ring-io counts a split call once, on any descriptor but 0 to 2") {
    const auto calls = ring_io_socket_calls(
        "[pid  7] recvfrom(9<TCP:[127.0.0.1:2000->127.0.0.1:40000]>,  <unfinished ...>\n"
        "[pid  8] write(2, \"log\\n\", 4)   = 4\n"
        "[pid  7] <... recvfrom resumed>\"x\", 1, 0, NULL, NULL) = 1\n"
        "<... sendto resumed>)           = 5\n");  // no start: its descriptor unknown
    CHECK(calls.size() == 1);
    CHECK(calls.at("recvfrom") == 1);
}
