#include <doctest/doctest.h>

#include "trace.hpp"

using csd::grade::parse_output_calls;

TEST_CASE("parse_output_calls keeps the successful output calls of an strace log") {
    const std::string log =
        "4242  write(4, \"1000\\n\", 5)            = 5\n"
        "4242  write(4, \"abcdefghijklmnopqrstuvwxyzabcdef\"..., 1000) = 1000\n"
        "4243  sendto(7, \"ab\", 2, MSG_MORE, NULL, 0) = 2\n"
        "4242  writev(4, [{iov_base=\"4\\n\", iov_len=2}, {iov_base=\"abcd\", iov_len=4}], 2) = 6\n"
        "4242  write(4, \"x\", 1)                  = -1 EAGAIN (Resource temporarily unavailable)\n"
        "4242  write(4, \"x\", 1 <unfinished ...>\n"
        "4242  <... write resumed>)               = 1\n"
        "4242  read(4, \"1000\\n\", 4096)           = 5\n"
        "write(2, \"log line (a) = 3\\n\", 17) = 17\n";
    const auto calls = parse_output_calls(log);
    REQUIRE(calls.size() == 5);
    CHECK(calls[0].name == "write");
    CHECK(calls[0].fd == 4);
    CHECK(calls[0].result == 5);
    CHECK(calls[1].result == 1000);
    CHECK(calls[2].name == "sendto");
    CHECK(calls[2].fd == 7);
    CHECK(calls[3].name == "writev");
    CHECK(calls[3].result == 6);
    CHECK(calls[4].fd == 2);
    CHECK(calls[4].result == 17);
}

TEST_CASE("parse_output_calls of nothing is nothing") {
    CHECK(parse_output_calls("").empty());
    CHECK(parse_output_calls("+++ exited with 0 +++\n").empty());
}
