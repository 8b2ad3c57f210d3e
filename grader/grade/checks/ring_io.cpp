// ring-io: the uring lab's server accepts, receives and sends through its
// ring, never by calling accept, read or send itself. Seen from outside
// with strace while clients are served: the socket calls the server made.
#include <fmt/format.h>

#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that accept, receive, send or wait on sockets by themselves
// (x86-64 and arm64 names; strace ignores those this machine lacks).
constexpr const char* traced =
    "accept,accept4,read,readv,recvfrom,recvmsg,recvmmsg,write,writev,sendto,sendmsg,sendmmsg,"
    "sendfile,splice,select,pselect6,poll,ppoll,epoll_wait,epoll_pwait,epoll_pwait2";

// The name of the call on strace line @p line and its first argument, when
// the line starts a call ("[pid N] " or "N " prefixes allowed; "<... name
// resumed>" lines are the second half of a call already counted).
bool parse_call(std::string_view line, std::string& name, long& first) {
    if (line.starts_with("[pid ")) {
        const auto close = line.find("] ");
        if (close == std::string_view::npos) return false;
        line.remove_prefix(close + 2);
    } else if (!line.empty() && std::isdigit(static_cast<unsigned char>(line.front())) != 0) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return false;
        line.remove_prefix(space + 1);
    }
    const auto open = line.find('(');
    if (open == std::string_view::npos || open == 0) return false;
    for (const char c : line.substr(0, open)) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
    }
    name = std::string(line.substr(0, open));
    std::size_t i = open + 1;
    first = 0;
    bool digits = false;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])) != 0) {
        first = first * 10 + (line[i] - '0');
        digits = true;
        ++i;
    }
    if (!digits) first = -1;
    return true;
}

}  // namespace

std::map<std::string, int> ring_io_socket_calls(const std::string& trace) {
    std::map<std::string, int> calls;
    std::size_t start = 0;
    while (start < trace.size()) {
        auto end = trace.find('\n', start);
        if (end == std::string::npos) end = trace.size();
        std::string name;
        long first = -1;
        // Calls on stdin, stdout and stderr (a log line) are not socket I/O.
        if (parse_call(std::string_view(trace).substr(start, end - start), name, first) &&
            (first > 2 || first < 0)) {
            ++calls[name];
        }
        start = end + 1;
    }
    return calls;
}

void check_ring_io(Context& ctx) {
    Strace trace(ctx.pid(), traced);
    if (!trace.attached()) {
        ctx.require_running("while strace attached to it");
        skip(trace.why_not());
    }
    try {
        // 20 clients one after another, then 10 at once, and a big reply
        // that comes out in many short sends.
        const Deadline overall(30s);
        for (int i = 0; i < 20; ++i) {
            Connection conn = Connection::open(ctx.port(), overall.within(3s));
            conn.send_all(request_line(4000), overall.within(3s), "request 4000");
            expect_reply(conn, 4000, overall.within(3s), "request 4000");
        }
        std::vector<Connection> together;
        for (int i = 0; i < 10; ++i) {
            together.push_back(Connection::open(ctx.port(), overall.within(3s)));
            together.back().send_all(request_line(65536), overall.within(3s), "request 65536");
        }
        for (auto& conn : together) expect_reply(conn, 65536, overall.within(3s), "65536 bytes");
        Connection big = Connection::open(ctx.port(), overall.within(3s));
        big.send_all(request_line(4u << 20), overall.within(3s), "request 4 MiB");
        expect_reply(big, 4u << 20, overall.within(10s), "4 MiB reply");
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const auto calls = ring_io_socket_calls(trace.finish());
    int total = 0;
    std::string seen;
    for (const auto& [name, n] : calls) {
        total += n;
        seen += fmt::format("{}{} x{}", seen.empty() ? "" : ", ", name, n);
    }
    ctx.log("ring-io: {} socket calls outside the ring", total);
    if (total > 0) {
        fail(
            fmt::format("while it served 31 clients, strace saw the server make {} call{} of its "
                        "own on sockets (not through the ring): {}",
                        total, total == 1 ? "" : "s", seen));
    }
}

}  // namespace csd::grade
