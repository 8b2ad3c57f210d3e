// bench-idle: opens COUNT connections to a server and holds them open, idle.
//
//   bench-idle [-i HOST] -p PORT [-n COUNT] [-s SECONDS]
//
// Prints "holding N connections" on stdout once every connection is made
// and, 200 ms later, still open; then sends nothing and waits until SIGTERM,
// SIGINT or SECONDS (default 600) have passed, and exits (the kernel closes
// the connections). Exit status 1 when a connection failed or the server
// closed some of them (a select() server refuses descriptors >= FD_SETSIZE).
// Used by tools/bench/idle_conns.sh; not a test.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/limits.hpp"

namespace {

/// What the command line asked for.
struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    int count = 1000;
    int seconds = 600;
};

[[noreturn]] void usage() {
    std::cerr << "usage: bench-idle [-i HOST] -p PORT [-n COUNT] [-s SECONDS]\n";
    std::exit(2);
}

int number(const char* text, int min, int max) {
    int value = 0;
    const std::string_view s(text);
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || value < min || value > max) usage();
    return value;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int c = 0; (c = ::getopt(argc, argv, "i:p:n:s:")) != -1;) {
        switch (c) {
            case 'i':
                o.host = ::optarg;
                break;
            case 'p':
                o.port = number(::optarg, 1, 65535);
                break;
            case 'n':
                o.count = number(::optarg, 1, 100000);
                break;
            case 's':
                o.seconds = number(::optarg, 1, 86400);
                break;
            default:
                usage();
        }
    }
    if (o.port == 0 || ::optind != argc) usage();
    return o;
}

/// A blocking TCP connection to @p o.host:@p o.port (IPv4).
csd::Fd connect_to(const Options& o) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
    if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
        throw std::runtime_error("-i wants an IPv4 address, not " + o.host);
    }
    csd::Fd fd(csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    csd::check(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr),
               "connect");
    return fd;
}

/// How many of @p conns the server has closed (readable: EOF or RST).
int closed_by_server(const std::vector<csd::Fd>& conns) {
    std::vector<pollfd> fds;
    for (const auto& c : conns) fds.push_back({c.get(), POLLIN, 0});
    csd::check(::poll(fds.data(), fds.size(), 0), "poll");
    int closed = 0;
    for (const auto& p : fds) closed += p.revents != 0 ? 1 : 0;
    return closed;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        csd::raise_open_file_limit();
        std::vector<csd::Fd> conns;
        conns.reserve(static_cast<std::size_t>(o.count));
        for (int i = 0; i < o.count; ++i) conns.push_back(connect_to(o));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (const int closed = closed_by_server(conns); closed > 0) {
            std::cerr << "bench-idle: the server closed " << closed << " of " << o.count
                      << " idle connections\n";
            return 1;
        }
        std::cout << "holding " << o.count << " connections" << std::endl;
        // SIGTERM and SIGINT keep their default action: the process ends,
        // the kernel closes every connection.
        std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
    } catch (const std::exception& e) {
        std::cerr << "bench-idle: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
