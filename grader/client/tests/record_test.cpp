#include "record.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using csd::client::decode;
using csd::client::encode;
using csd::client::Record;

TEST_CASE("records survive a round trip through a line") {
    Record ok;
    ok.child = 3;
    ok.connection = 17;
    ok.ok = true;
    ok.latency_ns = 123456;
    CHECK(encode(ok) == "ok 3 17 123456\n");
    const std::string line = encode(ok);
    const auto back = decode(std::string_view(line).substr(0, line.size() - 1));
    REQUIRE(back);
    CHECK(back->ok);
    CHECK(back->child == 3);
    CHECK(back->connection == 17);
    CHECK(back->latency_ns == 123456);

    Record bad;
    bad.child = 2;
    bad.connection = 5;
    bad.message = "got 1 of 2 bytes,\nthen EOF";
    const std::string failed = encode(bad);
    CHECK(failed == "fail 2 5 got 1 of 2 bytes, then EOF\n");
    const auto again = decode(std::string_view(failed).substr(0, failed.size() - 1));
    REQUIRE(again);
    CHECK_FALSE(again->ok);
    CHECK(again->message == "got 1 of 2 bytes, then EOF");
}

TEST_CASE("garbage is not a record") {
    CHECK_FALSE(decode(""));
    CHECK_FALSE(decode("ok"));
    CHECK_FALSE(decode("ok 1"));
    CHECK_FALSE(decode("ok 1 2"));
    CHECK_FALSE(decode("ok 1 2 x"));
    CHECK_FALSE(decode("ok 1 2 3 4"));
    CHECK_FALSE(decode("fail x 2 m"));
    CHECK_FALSE(decode("hello 1 2 3"));
}

TEST_CASE("the splitter keeps partial lines for later") {
    csd::client::LineSplitter splitter;
    std::vector<std::string> lines;
    auto collect = [&](std::string_view line) { lines.emplace_back(line); };
    splitter.feed("ok 1 1 5\nok 1", collect);
    CHECK(lines == std::vector<std::string>{"ok 1 1 5"});
    CHECK(splitter.pending() == 4);
    splitter.feed(" 2 6\n", collect);
    CHECK(lines == std::vector<std::string>{"ok 1 1 5", "ok 1 2 6"});
    CHECK(splitter.pending() == 0);
}
