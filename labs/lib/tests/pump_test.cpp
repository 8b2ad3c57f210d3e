#include "csd/pump.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <array>
#include <string>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/net.hpp"

namespace {

struct Pair {
    csd::Fd server, client;
};

Pair nonblocking_pair() {
    int sv[2];
    csd::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
               "socketpair");
    return {csd::Fd(sv[0]), csd::Fd(sv[1])};
}

std::string read_available(int fd) {
    std::string got;
    std::array<char, 65536> buf{};
    for (;;) {
        const auto r = csd::read_some(fd, buf.data(), buf.size());
        if (r.status != csd::ReadStatus::ok) return got;
        got.append(buf.data(), r.bytes);
    }
}

}  // namespace

TEST_CASE("pump_input feeds the session until the socket would block") {
    Pair p = nonblocking_pair();
    csd::Session s;
    std::array<char, 4> buf{};  // tiny: many reads
    REQUIRE(csd::write_some(p.client.get(), "26\n1\n").status == csd::WriteStatus::ok);
    CHECK(csd::pump_input(p.server.get(), s, buf, 1 << 20) == csd::Pump::drained);
    CHECK(s.queued() == 2);
}

TEST_CASE("pump_input stops at its budget, then goes on") {
    Pair p = nonblocking_pair();
    csd::Session s;
    std::array<char, 2> buf{};
    REQUIRE(csd::write_some(p.client.get(), "1\n2\n3\n").status == csd::WriteStatus::ok);
    CHECK(csd::pump_input(p.server.get(), s, buf, 2) == csd::Pump::more);
    CHECK(s.queued() == 1);
    CHECK(csd::pump_input(p.server.get(), s, buf, 100) == csd::Pump::drained);
    CHECK(s.queued() == 3);
}

TEST_CASE("pump_input passes end of input on and reports a reset as gone") {
    Pair p = nonblocking_pair();
    csd::Session s;
    std::array<char, 64> buf{};
    REQUIRE(csd::write_some(p.client.get(), "5\n").status == csd::WriteStatus::ok);
    ::shutdown(p.client.get(), SHUT_WR);
    CHECK(csd::pump_input(p.server.get(), s, buf, 100) == csd::Pump::drained);
    CHECK_FALSE(s.wants_input());
    CHECK(s.queued() == 1);
}

TEST_CASE("pump_output continues after partial writes and reports a full socket") {
    Pair p = nonblocking_pair();
    csd::Session s;
    CHECK(s.feed("10000000\n") > 0);  // far more than the socket buffer holds
    CHECK(csd::pump_output(p.server.get(), s, 1u << 30) == csd::Pump::drained);
    std::string got = read_available(p.client.get());
    CHECK(csd::pump_output(p.server.get(), s, 1u << 30) == csd::Pump::drained);
    got += read_available(p.client.get());
    REQUIRE(!got.empty());
    CHECK(csd::first_mismatch(got, 0) == got.size());
    p.client.reset();
    CHECK(csd::pump_output(p.server.get(), s, 1u << 30) == csd::Pump::gone);
}

TEST_CASE("pump_output stops at its budget") {
    Pair p = nonblocking_pair();
    csd::Session s;
    CHECK(s.feed("100000\n") > 0);
    CHECK(csd::pump_output(p.server.get(), s, 10) == csd::Pump::more);
    CHECK(s.has_output());
}

TEST_CASE("pump_input leaves in the socket what the session may not queue (back-pressure)") {
    Pair p = nonblocking_pair();
    csd::Session s;
    std::array<char, 4096> buf{};
    std::string many;
    for (std::size_t i = 0; i < 3 * csd::max_queued_requests; ++i) many += "1\n";
    REQUIRE(csd::write_some(p.client.get(), many).bytes == many.size());
    CHECK(csd::pump_input(p.server.get(), s, buf, 1 << 20) == csd::Pump::more);
    CHECK(s.queued() == csd::max_queued_requests);
    CHECK_FALSE(s.wants_input());
    // Nothing was lost: once the replies are sent, the rest is read.
    std::size_t answered = 0;
    while (answered < 3 * csd::max_queued_requests) {
        while (s.has_output()) {
            answered += s.output().size();
            s.consume(s.output().size());
        }
        REQUIRE(s.wants_input());
        (void)csd::pump_input(p.server.get(), s, buf, 1 << 20);
        if (s.queued() == 0) break;
    }
    CHECK(answered == 3 * csd::max_queued_requests);
    CHECK(csd::pump_input(p.server.get(), s, buf, 1 << 20) == csd::Pump::drained);
}
