#include "csd/protocol.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

// Drains a session completely, consuming at most @p step bytes per output().
std::string drain(csd::Session& s, std::size_t step = static_cast<std::size_t>(-1)) {
    std::string out;
    while (s.has_output()) {
        const std::string_view chunk = s.output();
        REQUIRE(!chunk.empty());
        const std::size_t n = std::min(step, chunk.size());
        out.append(chunk.substr(0, n));
        s.consume(n);
    }
    return out;
}

// Feeds @p bytes, which the session must take in full.
void feed_all(csd::Session& s, std::string_view bytes) {
    CHECK(s.feed(bytes) == bytes.size());
}

std::string reply(std::uint64_t n) {
    std::string r;
    for (std::uint64_t i = 0; i < n; ++i) r += csd::reply_byte(i);
    return r;
}

}  // namespace

TEST_CASE("reply bytes repeat the alphabet from 'a'") {
    CHECK(csd::reply_byte(0) == 'a');
    CHECK(csd::reply_byte(25) == 'z');
    CHECK(csd::reply_byte(26) == 'a');
    CHECK(csd::first_mismatch("abcdef", 0) == 6);
    CHECK(csd::first_mismatch("cdx", 2) == 2);
    CHECK(csd::first_mismatch("zab", 25) == 3);
}

TEST_CASE("parse_request accepts digits only, 1..1 GiB, optional \\r") {
    CHECK(csd::parse_request("4000") == 4000);
    CHECK(csd::parse_request("4000\r") == 4000);
    CHECK(csd::parse_request("1") == 1);
    CHECK(csd::parse_request("1073741824") == csd::max_request_bytes);
    CHECK(csd::parse_request("0004000") == 4000);
    CHECK(csd::parse_request("1073741825") == 0);
    CHECK(csd::parse_request("0") == 0);
    CHECK(csd::parse_request("") == 0);
    CHECK(csd::parse_request("\r") == 0);
    CHECK(csd::parse_request("-5") == 0);
    CHECK(csd::parse_request("+5") == 0);
    CHECK(csd::parse_request(" 12") == 0);
    CHECK(csd::parse_request("12 ") == 0);
    CHECK(csd::parse_request("4\r0") == 0);
    CHECK(csd::parse_request("abc") == 0);
    CHECK(csd::parse_request("99999999999999999999999") == 0);  // overflows uint64
    CHECK(csd::parse_request(std::string(33, '1')) == 0);
    // The 32-byte limit counts every byte before the '\n', a '\r' included.
    CHECK(csd::parse_request(std::string(31, '0') + "1") == 1);
    CHECK(csd::parse_request(std::string(30, '0') + "1\r") == 1);
    CHECK(csd::parse_request(std::string(31, '0') + "1\r") == 0);
    CHECK(csd::parse_request(std::string(32, '0') + "1") == 0);
    CHECK(csd::parse_request("12\r\r") == 0);
}

TEST_CASE("one request, one exact reply, then finished on end of input") {
    csd::Session s;
    CHECK(s.wants_input());
    feed_all(s, "26\n");
    CHECK(s.queued() == 1);
    CHECK(drain(s) == reply(26));
    CHECK_FALSE(s.finished());
    s.end_of_input();
    CHECK(s.finished());
    CHECK_FALSE(s.malformed());
}

TEST_CASE("a request split anywhere, even byte by byte, is one request") {
    csd::Session s;
    for (char c : std::string("4000\r\n")) CHECK(s.feed(std::string_view(&c, 1)) == 1);
    CHECK(drain(s) == reply(4000));
}

TEST_CASE("pipelined requests are answered in order, short ones batched") {
    csd::Session s;
    feed_all(s, "1\n26\n3\n100000\n2\n");
    CHECK(s.queued() == 5);
    const std::string expected = reply(1) + reply(26) + reply(3) + reply(100000) + reply(2);
    CHECK(drain(s) == expected);
    s.end_of_input();
    CHECK(s.finished());
}

TEST_CASE("partial writes continue where they stopped, never from the start") {
    csd::Session s;
    feed_all(s, "70000\n5\n5\n");
    CHECK(drain(s, 7) == reply(70000) + reply(5) + reply(5));
    csd::Session t;
    feed_all(t, "3\n4\n");
    CHECK(drain(t, 1) == reply(3) + reply(4));
}

TEST_CASE("a large reply streams from a small buffer") {
    csd::Session s;
    feed_all(s, "1073741824\n");
    const std::string_view first = s.output();
    CHECK(first.size() < 128 * 1024);
    CHECK(csd::first_mismatch(first, 0) == first.size());
    s.consume(first.size() - 3);
    const std::string_view next = s.output();
    CHECK(csd::first_mismatch(next, first.size() - 3) == next.size());
}

TEST_CASE("malformed requests stop the session; earlier requests are still answered") {
    for (const char* bad : {"abc\n", "0\n", "-5\n", "12345678901234567890123\n", "1073741825\n",
                            " 12\n", "12 \n", "\n", "\r\n", "1\r2\n"}) {
        CAPTURE(bad);
        csd::Session s;
        feed_all(s, bad);
        CHECK(s.malformed());
        CHECK_FALSE(s.wants_input());
        CHECK_FALSE(s.has_output());
        CHECK(s.finished());
    }
    csd::Session s;
    feed_all(s, "5\nxyz\n7\n");
    CHECK(s.malformed());
    CHECK(drain(s) == reply(5));
    CHECK(s.finished());
}

TEST_CASE("a line longer than 32 bytes is malformed even without a newline") {
    csd::Session s;
    feed_all(s, std::string(32, '1').substr(0, 20));
    CHECK_FALSE(s.malformed());
    feed_all(s, std::string(13, '1'));
    CHECK(s.malformed());
    csd::Session ok;
    feed_all(ok, std::string(31, '0') + "7\n");  // exactly 32 bytes of line
    CHECK_FALSE(ok.malformed());
    CHECK(drain(ok) == reply(7));
}

TEST_CASE("binary junk is malformed") {
    csd::Session s;
    feed_all(s, std::string("\x00\xff\x01\n", 4));
    CHECK(s.malformed());
}

TEST_CASE("end of input drops a partial line and answers complete ones") {
    csd::Session s;
    feed_all(s, "3\n40");
    s.end_of_input();
    CHECK_FALSE(s.finished());
    CHECK(drain(s) == reply(3));
    CHECK(s.finished());
    CHECK_FALSE(s.wants_input());
}

TEST_CASE("back-pressure: too many queued requests stop reading") {
    csd::Session s;
    std::string many;
    for (std::size_t i = 0; i < csd::max_queued_requests; ++i) many += "1\n";
    feed_all(s, many);
    CHECK_FALSE(s.wants_input());
    drain(s);
    CHECK(s.wants_input());
}

TEST_CASE(
    "feed honours max_queued_requests: it takes whole lines up to the cap, the caller keeps the "
    "rest") {
    csd::Session s;
    std::string many;
    for (std::size_t i = 0; i < csd::max_queued_requests + 10; ++i) many += "12\n";
    const std::size_t taken = s.feed(many);
    CHECK(taken == 3 * csd::max_queued_requests);
    CHECK(s.queued() == csd::max_queued_requests);
    CHECK(s.input_room() == 0);
    CHECK(s.feed(std::string_view(many).substr(taken)) == 0);  // full: takes nothing
    // Once the replies went out, the rest is taken.
    CHECK(drain(s).size() == 12 * csd::max_queued_requests);
    CHECK(s.feed(std::string_view(many).substr(taken)) == 30);
    CHECK(s.queued() == 10);
}

TEST_CASE("input_room: reading that much never leaves bytes the session does not take") {
    // The worst case: a pending partial line, then the shortest lines.
    for (std::size_t queued = 0; queued < csd::max_queued_requests; ++queued) {
        CAPTURE(queued);
        csd::Session s;
        std::string first;
        for (std::size_t i = 0; i < queued; ++i) first += "1\n";
        first += "1";  // a partial line, ended by the next feed
        feed_all(s, first);
        std::string next = "\n";
        while (next.size() < s.input_room()) next += "1\n";
        next.resize(s.input_room());
        CHECK(s.feed(next) == next.size());
        CHECK(s.queued() <= csd::max_queued_requests);
    }
    csd::Session bad;
    feed_all(bad, "x\n");
    CHECK(bad.input_room() == 0);
}

TEST_CASE("after a malformed line or end of input, everything fed is taken and dropped") {
    csd::Session s;
    feed_all(s, "3\nbad\n");
    CHECK(s.feed("4\n5\n") == 4);
    CHECK(s.queued() == 1);
    csd::Session e;
    e.end_of_input();
    CHECK(e.feed("4\n") == 2);
    CHECK(e.queued() == 0);
}

TEST_CASE("reply_offset and reply_left follow the front reply, for a server that sends it itself") {
    csd::Session s;
    CHECK(s.reply_left() == 0);
    CHECK(s.reply_offset() == 0);
    feed_all(s, "100\n30\n");
    CHECK(s.reply_offset() == 0);
    CHECK(s.reply_left() == 100);
    s.consume(40);  // as if 40 bytes went out with sendfile()
    CHECK(s.reply_offset() == 40);
    CHECK(s.reply_left() == 60);
    s.consume(60);
    CHECK(s.queued() == 1);
    CHECK(s.reply_offset() == 0);
    CHECK(s.reply_left() == 30);
    s.consume(30);
    CHECK_FALSE(s.has_output());
    CHECK(s.reply_left() == 0);
}

TEST_CASE("reply_left is 0 while short replies copied together by output() are being sent") {
    // Found by fuzz-session: a server that mixed output() and reply_left()
    // would have skipped the replies of the batch.
    csd::Session s;
    feed_all(s, "3\n4\n");
    const std::string_view batch = s.output();  // "abc" + "abcd", copied together
    CHECK(batch.size() == 7);
    feed_all(s, "50000\n");
    CHECK(s.queued() == 1);
    CHECK(s.reply_left() == 0);
    s.consume(batch.size());
    CHECK(s.reply_left() == 50000);
}
