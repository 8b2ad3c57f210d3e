#pragma once
/// @file test_server.hpp
/// @brief What the grader's test servers (models.cpp, hostile.cpp) share:
/// the command line, a listening socket, the protocol on a blocking socket,
/// and a SIGTERM flag. Plain POSIX, so these servers do not depend on the
/// lab library's API. Header-only; each program includes it once.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace test_server {

/// `-i HOST -p PORT [-n N]`, as the contract's section 2 says.
struct Options {
    std::string host = "127.0.0.1";  ///< -i
    std::uint16_t port = 2000;       ///< -p
    int workers = 10;                ///< -n
};

/// Parses the command line; exits with status 2 on anything else. The lab
/// flag -e (epoll's edge-triggered mode, which the grader passes to some
/// checks of that lab) is accepted and ignored.
inline Options parse(int argc, char** argv) {
    Options o;
    const auto usage = [&] {
        std::fprintf(stderr, "usage: %s [-i HOST] [-p PORT] [-n N] [-e]\n", argv[0]);
        std::exit(2);
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "-e") continue;
        if (i + 1 >= argc) usage();
        const char* value = argv[++i];
        if (flag == "-i") {
            o.host = value;
        } else if (flag == "-p") {
            o.port = static_cast<std::uint16_t>(std::atoi(value));
        } else if (flag == "-n") {
            o.workers = std::atoi(value);
        } else {
            usage();
        }
    }
    if (o.workers < 1) usage();
    return o;
}

/// Exits with status 1 after printing @p what and errno.
[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

/// A listening TCP socket on @p o (CLOEXEC, SO_REUSEADDR, backlog 128;
/// SO_REUSEPORT too when @p reuse_port).
inline int listen_on(const Options& o, bool reuse_port = false) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("setsockopt");
    if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        die("setsockopt");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(o.port);
    if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) die("inet_pton");
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) die("bind");
    if (::listen(fd, 128) < 0) die("listen");
    return fd;
}

/// Prints `Listening on HOST:PORT` and flushes stdout.
inline void announce(const Options& o) {
    std::printf("Listening on %s:%u\n", o.host.c_str(), static_cast<unsigned>(o.port));
    std::fflush(stdout);
}

/// Set by SIGTERM and SIGINT.
inline volatile std::sig_atomic_t stop = 0;

/// SIGTERM and SIGINT set `stop` (no SA_RESTART: blocking calls return
/// EINTR); SIGPIPE is ignored.
inline void catch_stop() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { stop = 1; };
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

/// Writes all of @p n reply bytes; false when the client is gone.
inline bool send_reply(int fd, std::uint64_t n) {
    char buf[26 * 1024];
    for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<char>('a' + i % 26);
    std::uint64_t sent = 0;
    while (sent < n) {
        const std::size_t at = static_cast<std::size_t>(sent % 26);
        const std::size_t len =
            static_cast<std::size_t>(std::min<std::uint64_t>(n - sent, sizeof buf - 26));
        const ssize_t w = ::write(fd, buf + at, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        sent += static_cast<std::uint64_t>(w);
    }
    return true;
}

/// The N of a request line, 0 when malformed.
inline std::uint64_t parse_request(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.size() > 32) return 0;
    std::uint64_t n = 0;
    for (const char c : line) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > (1ULL << 30)) return 0;
    }
    return n;
}

/// Serves the protocol on the blocking socket @p fd until the client is done.
inline void serve(int fd) {
    std::string line;
    char buf[4096];
    for (;;) {
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return;
        for (ssize_t i = 0; i < got; ++i) {
            if (buf[i] != '\n') {
                line += buf[i];
                if (line.size() > 34) return;
                continue;
            }
            const std::uint64_t n = parse_request(line);
            line.clear();
            if (n == 0 || !send_reply(fd, n)) return;
        }
    }
}

}  // namespace test_server
