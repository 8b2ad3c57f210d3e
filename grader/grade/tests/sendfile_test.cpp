// The grader's parts for the trick labs: the random file of sendfile, replies
// that cycle through it, and reading strace output (zero-copy, cork's writes).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "expect.hpp"
#include "reply_format.hpp"
#include "served_file.hpp"
#include "strace_text.hpp"

using namespace csd::grade;

TEST_CASE("a served file holds its bytes on disk and is removed with its directory") {
    std::string path;
    {
        const ServedFile file(1000);
        path = file.path();
        CHECK(file.bytes().size() == 1000);
        std::ifstream in(path, std::ios::binary);
        std::ostringstream all;
        all << in.rdbuf();
        CHECK(all.str() == file.bytes());
    }
    struct stat st {};
    CHECK(::stat(path.c_str(), &st) != 0);
    CHECK(::stat(path.substr(0, path.rfind('/')).c_str(), &st) != 0);
}

TEST_CASE("a reply format: the alphabet, a served file's bytes, a header line") {
    const ReplyFormat file = ReplyFormat::cycling("0123456789");
    CHECK(file.byte(0) == '0');
    CHECK(file.byte(13) == '3');
    CHECK(file.mismatch("789012", 7) == 6);  // wraps at the end of the file
    CHECK(file.mismatch("789712", 7) == 3);  // the first wrong byte
    CHECK(file.mismatch("0123456789012", 0) == 13);
    CHECK(file.mismatch("abc", 0) == 0);  // the alphabet is wrong for it
    CHECK_FALSE(file.alphabet());
    // Each format is a value of its own: the alphabet is untouched.
    const ReplyFormat alphabet;
    CHECK(alphabet.alphabet());
    CHECK(alphabet.byte(27) == 'b');
    CHECK(alphabet.mismatch("abc", 0) == 3);
    CHECK(alphabet.mismatch(std::string(26 * 5000, 'a'), 0) == 1);
    CHECK_FALSE(alphabet.header_line());
    const ReplyFormat cork = alphabet.with_header_line();
    CHECK(cork.header_line());
    CHECK(cork.byte(1) == 'b');
    CHECK_THROWS_AS((void)ReplyFormat::cycling(""), std::invalid_argument);
}

TEST_CASE("strace output: bytes per call, with pids and split calls") {
    const std::string text =
        "1234  sendfile(5, 4, [0] => [65536], 1048576) = 65536\n"
        "[pid 1235] sendfile(6, 4, [0] => [100], 100) = 100\n"
        "1234  sendfile(5, 4, [65536], 1048576) = -1 EAGAIN (Resource temporarily unavailable)\n"
        "1234  read(5, \"16\\n\", 65536) = 3\n"
        "1235  pread64(4,  <unfinished ...>\n"
        "1234  sendto(5, \"x\", 1, MSG_NOSIGNAL, NULL, 0) = 1\n"
        "1235  <... pread64 resumed>\"...\", 16384, 0) = 16384\n"
        "1234  read(5, \"\", 65536) = 0\n"
        "1234  +++ exited with 0 +++\n";
    const auto bytes = strace_bytes_per_call(text);
    CHECK(bytes.at("sendfile") == 65636);
    CHECK(bytes.at("read") == 3);
    CHECK(bytes.at("pread64") == 16384);
    CHECK(bytes.at("sendto") == 1);
    CHECK(bytes.size() == 4);
}

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
    const auto calls = csd::grade::parse_output_calls(log);
    REQUIRE(calls.size() == 6);
    CHECK(calls[0].name == "write");
    CHECK(calls[0].fd == 4);
    CHECK(calls[0].result == 5);
    CHECK(calls[1].result == 1000);
    CHECK(calls[2].name == "sendto");
    CHECK(calls[2].fd == 7);
    CHECK(calls[3].name == "writev");
    CHECK(calls[3].result == 6);
    CHECK(calls[4].fd == 4);  // the call split by another thread, joined
    CHECK(calls[4].result == 1);
    CHECK(calls[5].fd == 2);
    CHECK(calls[5].result == 17);
}

TEST_CASE("parse_output_calls of nothing is nothing") {
    CHECK(csd::grade::parse_output_calls("").empty());
    CHECK(csd::grade::parse_output_calls("+++ exited with 0 +++\n").empty());
}
