// Small pure helpers: output tails, wait statuses, quoting, command text.
#include <doctest/doctest.h>
#include <signal.h>

#include "command.hpp"
#include "net.hpp"
#include "process.hpp"
#include "server.hpp"
#include "text_lines.hpp"

using namespace csd::grade;

TEST_CASE("tail_lines") {
    CHECK(tail_lines("a\nb\nc\n", 2) == "b\nc");
    CHECK(tail_lines("a\nb\nc", 1) == "c");
    CHECK(tail_lines("a\nb", 5) == "a\nb");
    CHECK(tail_lines("", 3).empty());
    CHECK(tail_lines("x\n", 0).empty());
}

TEST_CASE("lines_of") {
    using V = std::vector<std::string_view>;
    CHECK(lines_of("a\nb\n") == V{"a", "b"});
    CHECK(lines_of("a\n\nb") == V{"a", "", "b"});
    CHECK(lines_of("\n") == V{""});
    CHECK(lines_of("").empty());
}

TEST_CASE("describe_wait_status") {
    CHECK(describe_wait_status(0) == "exited with status 0");
    CHECK(describe_wait_status(3 << 8) == "exited with status 3");
    CHECK(describe_wait_status(SIGPIPE) == "was killed by signal 13 (SIGPIPE)");
    CHECK(describe_wait_status(-1) == "ended (exit status unknown)");
    CHECK(signal_name(SIGTERM) == "SIGTERM");
}

TEST_CASE("quote shows control bytes") {
    CHECK(quote("12\n") == "\"12\\n\"");
    CHECK(quote(std::string("\x00\xff", 2)) == "\"\\x00\\xff\"");
    CHECK(quote("abcdef", 3) == "\"abc\"... (6 bytes)");
    CHECK(request_line(4000) == "4000\n");
}

TEST_CASE("command_text") {
    CHECK(command_text({"csd-client", "-c", "5"}) == "csd-client -c 5");
}
