#include "launch.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"

namespace csd::launch {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// How long the wait sleeps between two polls of a server that is neither
/// ready nor ended.
constexpr auto poll_interval = 10ms;

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
}

/// The whole of the file @p path; empty when it does not exist.
std::string read_file(const char* path) {
    csd::Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return {};
        csd::throw_errno("open");
    }
    std::string text;
    char buffer[16 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n == -1 && errno == EINTR) continue;
        if (n == 0) return text;
        text.append(buffer, static_cast<std::size_t>(csd::check(n, "read")));
    }
}

/// The next whitespace-separated field of @p line, removed from it.
std::string_view next_field(std::string_view& line) {
    const auto begin = line.find_first_not_of(' ');
    if (begin == std::string_view::npos) return line = {};
    line.remove_prefix(begin);
    const auto end = std::min(line.find(' '), line.size());
    const std::string_view field = line.substr(0, end);
    line.remove_prefix(end);
    return field;
}

/// True when the table @p text of /proc/net/tcp or tcp6 has a socket in
/// state LISTEN (0A) on local port @p port.
bool table_lists_listener(std::string_view text, std::uint16_t port) {
    bool header = true;
    while (!text.empty()) {
        const auto nl = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(nl + 1, text.size()));
        if (std::exchange(header, false)) continue;
        (void)next_field(line);  // "sl"
        const std::string_view local = next_field(line);
        (void)next_field(line);  // rem_address
        if (next_field(line) != "0A") continue;
        const auto colon = local.rfind(':');
        if (colon == std::string_view::npos) continue;
        unsigned value = 0;
        const std::string_view hex = local.substr(colon + 1);
        const auto [end, error] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
        if (error == std::errc() && end == hex.data() + hex.size() && value == port) return true;
    }
    return false;
}

/// A free port that is none of @p tried (a few tries, then whatever comes).
std::uint16_t untried_port(const std::vector<std::uint16_t>& tried) {
    std::uint16_t port = free_loopback_port();
    for (int i = 0; i < 16 && std::find(tried.begin(), tried.end(), port) != tried.end(); ++i) {
        port = free_loopback_port();
    }
    return port;
}

/// Waits until the server of @p hooks on @p port is ready, ended or
/// @p deadline passed; @p found is when it was found so.
LaunchStatus wait_until_ready(const ServerHooks& hooks, std::uint16_t port,
                              Clock::time_point deadline, const LaunchOptions& options,
                              Clock::time_point& found) {
    for (;;) {
        if (hooks.ended()) {
            found = Clock::now();
            return hooks.port_in_use && hooks.port_in_use() ? LaunchStatus::port_taken
                                                            : LaunchStatus::ended;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            found = now;
            return LaunchStatus::timed_out;
        }
        const bool ready =
            hooks.ready ? hooks.ready(port)
                        : port_accepts(port, std::min(options.probe_timeout, deadline - now));
        if (ready) {
            found = Clock::now();
            return !hooks.owns_port || hooks.owns_port(port) ? LaunchStatus::ready
                                                             : LaunchStatus::port_taken;
        }
        std::this_thread::sleep_until(std::min(Clock::now() + poll_interval, deadline));
    }
}

}  // namespace

LaunchResult start_on_free_port(const ServerHooks& hooks, const LaunchOptions& options) {
    if (!hooks.start || !hooks.ended || !hooks.stop) {
        throw std::invalid_argument(
            "start_on_free_port: the start, ended and stop hooks are needed");
    }
    LaunchResult result;
    std::vector<std::uint16_t> tried;
    for (int attempt = 0;; ++attempt) {
        result.port = untried_port(tried);
        tried.push_back(result.port);
        hooks.start(result.port);
        const auto begin = Clock::now();
        // The earlier of the two, without overflow (not_after may be max(), timeout too).
        const auto deadline = options.timeout < options.not_after - begin ? begin + options.timeout
                                                                          : options.not_after;
        auto found = begin;
        result.status = wait_until_ready(hooks, result.port, deadline, options, found);
        result.seconds = std::chrono::duration<double>(found - begin).count();
        if (result.status != LaunchStatus::port_taken || attempt >= options.max_retries) {
            return result;
        }
        hooks.stop();
        ++result.port_retries;
    }
}

std::uint16_t free_loopback_port() {
    const csd::Fd fd(csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in address = loopback(0);
    csd::check(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address),
               "bind");
    socklen_t length = sizeof address;
    csd::check(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length),
               "getsockname");
    return ntohs(address.sin_port);
}

bool port_accepts(std::uint16_t port, std::chrono::steady_clock::duration timeout) {
    const csd::Fd fd(
        csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket"));
    const sockaddr_in address = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == -1) {
        if (errno != EINPROGRESS) return false;  // refused, or no local port left
        const auto deadline = Clock::now() + timeout;
        pollfd p{fd.get(), POLLOUT, 0};
        for (;;) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            const int n =
                ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000)));
            if (n == -1 && errno == EINTR) continue;
            if (csd::check(n, "poll") == 0) return false;
            break;
        }
        int error = 0;
        socklen_t length = sizeof error;
        csd::check(::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length), "getsockopt");
        if (error != 0) return false;
    }
    // Connected; but to itself? (TCP's simultaneous open, when the kernel
    // gave the socket the very port it connects to and nothing listens.)
    sockaddr_in local{};
    socklen_t length = sizeof local;
    csd::check(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length),
               "getsockname");
    return ntohs(local.sin_port) != port;
}

bool port_listening(std::uint16_t port) {
    return table_lists_listener(read_file("/proc/net/tcp"), port) ||
           table_lists_listener(read_file("/proc/net/tcp6"), port);
}

bool said_address_in_use(std::string_view output) {
    return output.find("Address already in use") != std::string_view::npos ||
           output.find("EADDRINUSE") != std::string_view::npos;
}

}  // namespace csd::launch
