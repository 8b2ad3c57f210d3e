#include "reply_check.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

std::string reply(std::size_t from, std::size_t count) {
    std::string bytes;
    for (std::size_t i = from; i < from + count; ++i) bytes += static_cast<char>('a' + i % 26);
    return bytes;
}

}  // namespace

using csd::client::ReplyCheck;

TEST_CASE("an exact reply in pieces, then EOF, is finished") {
    ReplyCheck check(100);
    CHECK(check.feed(reply(0, 30)));
    CHECK_FALSE(check.complete());
    CHECK(check.feed(reply(30, 70)));
    CHECK(check.complete());
    CHECK_FALSE(check.finished());
    check.end_of_input();
    CHECK(check.finished());
    CHECK_FALSE(check.failed());
}

TEST_CASE("a wrong byte names its index, what came and what was expected") {
    ReplyCheck check(8000);
    CHECK(check.feed(reply(0, 4096)));
    std::string rest = reply(4096, 100);
    rest[0] = 'a';  // byte 4096 should be 'a' + 4096 % 26 = 'o'
    CHECK_FALSE(check.feed(rest));
    CHECK(check.failed());
    CHECK(check.error() == "byte 4096 is 'a', expected 'o'");
    CHECK(check.received() == 4096);
}

TEST_CASE("a reply restarting at 'a' after a partial write is caught") {
    ReplyCheck check(60);
    CHECK(check.feed(reply(0, 27)));
    CHECK_FALSE(check.feed(reply(0, 33)));
    CHECK(check.error() == "byte 27 is 'a', expected 'b'");
}

TEST_CASE("a short reply fails at EOF") {
    ReplyCheck check(4000);
    CHECK(check.feed(reply(0, 1000)));
    check.end_of_input();
    CHECK(check.error() == "got 1000 of 4000 bytes, then EOF");
}

TEST_CASE("no reply at all") {
    ReplyCheck check(4000);
    check.end_of_input();
    CHECK(check.error() == "got 0 of 4000 bytes, then EOF");
}

TEST_CASE("extra bytes, in the same read or later, fail") {
    SUBCASE("same read") {
        ReplyCheck check(26);
        CHECK_FALSE(check.feed(reply(0, 27)));
        CHECK(check.error() == "server sent more than 26 bytes");
    }
    SUBCASE("later read") {
        ReplyCheck check(26);
        CHECK(check.feed(reply(0, 26)));
        CHECK(check.complete());
        CHECK_FALSE(check.feed("x"));
        CHECK(check.error() == "server sent more than 26 bytes");
        CHECK_FALSE(check.complete());
    }
}

TEST_CASE("the first failure stays") {
    ReplyCheck check(10);
    check.fail("timed out");
    check.fail("something else");
    check.end_of_input();
    CHECK(check.error() == "timed out");
}

TEST_CASE("unprintable bytes are shown as escapes") {
    CHECK(csd::client::describe_byte('a') == "'a'");
    CHECK(csd::client::describe_byte('\n') == "'\\x0a'");
    CHECK(csd::client::describe_byte('\0') == "'\\x00'");
    CHECK(csd::client::describe_byte('\xff') == "'\\xff'");
}

TEST_CASE("count-only: any bytes count, the reply is finished without EOF, extra bytes ignored") {
    ReplyCheck check(10, true);
    CHECK(check.feed("\x01\xff random"));
    CHECK_FALSE(check.complete());
    CHECK(check.feed("xyz and more"));
    CHECK(check.complete());
    CHECK(check.finished());
    CHECK_FALSE(check.failed());
    CHECK(check.received() == 10);
}

TEST_CASE("count-only: a short reply then EOF still fails") {
    ReplyCheck check(10, true);
    CHECK(check.feed("12345"));
    check.end_of_input();
    CHECK(check.failed());
    CHECK_FALSE(check.finished());
}
