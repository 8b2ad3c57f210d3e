#include "launch.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/net.hpp"

namespace {

using namespace std::chrono_literals;
using csd::launch::LaunchOptions;
using csd::launch::LaunchStatus;
using csd::launch::ServerHooks;

/// A stand-in for a lab server: a child process that listens on
/// 127.0.0.1:PORT (after a delay) and says so on a pipe, its stdout, until
/// it is killed; or, when the port is in use, writes the error ("bind:
/// Address already in use") on another pipe, its stderr, and exits with
/// status 1.
class ChildServer {
  public:
    ChildServer() = default;
    ChildServer(const ChildServer&) = delete;
    ChildServer& operator=(const ChildServer&) = delete;
    ~ChildServer() { stop(); }

    void start(std::uint16_t port, std::chrono::milliseconds delay = 0ms) {
        stop();
        auto [out_read, out_write] = pipe();
        auto [err_read, err_write] = pipe();
        out_ = std::move(out_read);
        err_ = std::move(err_read);
        out_text_.clear();
        err_text_.clear();
        pid_ = csd::check(::fork(), "fork");
        if (pid_ == 0) {
            std::this_thread::sleep_for(delay);
            try {
                const csd::Fd listener = csd::listen_tcp("127.0.0.1", port);
                const std::string line = "Listening on 127.0.0.1:" + std::to_string(port) + "\n";
                (void)!::write(out_write.get(), line.data(), line.size());
                for (;;) ::pause();
            } catch (const std::system_error& e) {
                const std::string text = std::string(e.what()) + "\n";
                (void)!::write(err_write.get(), text.data(), text.size());
                ::_exit(1);
            }
        }
    }

    /// True once the child ended (reaped here).
    bool ended() {
        if (pid_ <= 0) return true;
        if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
        pid_ = -1;
        return true;
    }

    /// True once the child said it listens on @p port.
    bool announced(std::uint16_t port) {
        drain(out_, out_text_);
        return out_text_ == "Listening on 127.0.0.1:" + std::to_string(port) + "\n";
    }

    /// What the child wrote on its stderr so far.
    const std::string& err_text() {
        drain(err_, err_text_);
        return err_text_;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        pid_ = -1;
    }

  private:
    static std::pair<csd::Fd, csd::Fd> pipe() {
        int ends[2];
        csd::check(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
        return {csd::Fd(ends[0]), csd::Fd(ends[1])};
    }
    static void drain(const csd::Fd& fd, std::string& text) {
        char buffer[512];
        ssize_t n = 0;
        while (fd && (n = ::read(fd.get(), buffer, sizeof buffer)) > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        }
    }

    pid_t pid_ = -1;
    int status_ = 0;
    csd::Fd out_;
    csd::Fd err_;
    std::string out_text_;
    std::string err_text_;
};

/// The hooks that start @p server, wait for its announcement, and tell
/// "Address already in use" from its stderr.
ServerHooks hooks_of(ChildServer& server) {
    ServerHooks hooks;
    hooks.start = [&server](std::uint16_t port) { server.start(port); };
    hooks.ended = [&server] { return server.ended(); };
    hooks.port_in_use = [&server] { return csd::launch::said_address_in_use(server.err_text()); };
    hooks.ready = [&server](std::uint16_t port) { return server.announced(port); };
    hooks.stop = [&server] { server.stop(); };
    return hooks;
}

/// A fake server for the logic of start_on_free_port(): what each hook
/// does is decided by the test; every call is counted.
struct Fake {
    std::vector<std::uint16_t> started;  // the port of every start()
    int stops = 0;
    bool ends = false;         // ended() says so
    bool port_in_use = false;  // port_in_use() says so
    bool ready = false;        // ready() says so

    ServerHooks hooks() {
        ServerHooks h;
        h.start = [this](std::uint16_t port) { started.push_back(port); };
        h.ended = [this] { return ends; };
        h.port_in_use = [this] { return port_in_use; };
        h.ready = [this](std::uint16_t) { return ready; };
        h.stop = [this] { ++stops; };
        return h;
    }
};

}  // namespace

TEST_CASE("free_loopback_port: a port that can be bound now") {
    const std::uint16_t port = csd::launch::free_loopback_port();
    CHECK(port != 0);
    const csd::Fd listener = csd::listen_tcp("127.0.0.1", port);
    CHECK(csd::local_port(listener.get()) == port);
}

TEST_CASE("port_accepts and port_listening: a listener, then none") {
    std::uint16_t port = 0;
    {
        const csd::Fd listener = csd::listen_tcp("127.0.0.1", 0);
        port = csd::local_port(listener.get());
        CHECK(csd::launch::port_accepts(port, 1s));
        CHECK(csd::launch::port_listening(port));
    }
    CHECK_FALSE(csd::launch::port_accepts(port, 1s));
    CHECK_FALSE(csd::launch::port_listening(port));
}

TEST_CASE("said_address_in_use: the messages of a taken port") {
    CHECK(csd::launch::said_address_in_use("bind: Address already in use\n"));
    CHECK(csd::launch::said_address_in_use("OSError: [Errno 98] Address already in use"));
    CHECK(csd::launch::said_address_in_use("error EADDRINUSE"));
    CHECK_FALSE(csd::launch::said_address_in_use("bind: Permission denied"));
    CHECK_FALSE(csd::launch::said_address_in_use(""));
}

TEST_CASE("start_on_free_port: a server that listens is ready at once") {
    ChildServer server;
    const auto result = csd::launch::start_on_free_port(hooks_of(server));
    CHECK(result.status == LaunchStatus::ready);
    CHECK(result.port_retries == 0);
    CHECK(csd::launch::port_accepts(result.port, 1s));
    CHECK(result.seconds < 10);
}

TEST_CASE("start_on_free_port: a port taken before the server binds it: again on another") {
    ChildServer server;
    ServerHooks hooks = hooks_of(server);
    // The first port is taken by another socket (listening, as another
    // server would) between its choice and the start of the server.
    std::vector<std::uint16_t> ports;
    csd::Fd thief;
    hooks.start = [&](std::uint16_t port) {
        ports.push_back(port);
        if (ports.size() == 1) thief = csd::listen_tcp("127.0.0.1", port);
        server.start(port);
    };
    const auto result = csd::launch::start_on_free_port(hooks);
    REQUIRE(ports.size() == 2);
    CHECK(result.status == LaunchStatus::ready);
    CHECK(result.port_retries == 1);
    CHECK(result.port == ports[1]);
    CHECK(result.port != ports[0]);
    CHECK(csd::launch::port_accepts(result.port, 1s));
}

TEST_CASE("start_on_free_port: a port that accepts for another process: again on another") {
    // The server binds late; another socket listens on its first port, so
    // that port accepts, but owns_port() sees it is not the server's.
    ChildServer server;
    ServerHooks hooks = hooks_of(server);
    std::vector<std::uint16_t> ports;
    csd::Fd thief;
    hooks.start = [&](std::uint16_t port) {
        ports.push_back(port);
        if (ports.size() == 1) thief = csd::listen_tcp("127.0.0.1", port);
        server.start(port, ports.size() == 1 ? 2000ms : 0ms);
    };
    hooks.ready = nullptr;  // the default: the port accepts (the thief's does)
    hooks.owns_port = [&](std::uint16_t port) { return port != ports[0]; };
    int stops = 0;
    hooks.stop = [&] {
        ++stops;
        server.stop();
    };
    const auto result = csd::launch::start_on_free_port(hooks);
    REQUIRE(ports.size() == 2);
    CHECK(result.status == LaunchStatus::ready);
    CHECK(result.port_retries == 1);
    CHECK(stops == 1);
    CHECK(result.port == ports[1]);
}

TEST_CASE("start_on_free_port: a server that ends for another reason is not started again") {
    Fake fake;
    fake.ends = true;
    const auto result = csd::launch::start_on_free_port(fake.hooks());
    CHECK(result.status == LaunchStatus::ended);
    CHECK(fake.started.size() == 1);
    CHECK(fake.stops == 0);
    CHECK(result.port_retries == 0);
}

TEST_CASE("start_on_free_port: the retries are bounded, every port a new one") {
    Fake fake;
    fake.ends = true;
    fake.port_in_use = true;
    LaunchOptions options;
    options.max_retries = 2;
    const auto result = csd::launch::start_on_free_port(fake.hooks(), options);
    CHECK(result.status == LaunchStatus::port_taken);
    CHECK(result.port_retries == 2);
    CHECK(fake.started.size() == 3);
    CHECK(fake.stops == 2);  // the last attempt is left to the caller
    CHECK(std::set<std::uint16_t>(fake.started.begin(), fake.started.end()).size() == 3);
    CHECK(result.port == fake.started.back());
}

TEST_CASE("start_on_free_port: an early end without port_in_use is never retried") {
    Fake fake;
    fake.ends = true;
    fake.port_in_use = true;  // (not asked)
    ServerHooks hooks = fake.hooks();
    hooks.port_in_use = nullptr;
    const auto result = csd::launch::start_on_free_port(hooks);
    CHECK(result.status == LaunchStatus::ended);
    CHECK(fake.started.size() == 1);
    CHECK(fake.stops == 0);
}

TEST_CASE("start_on_free_port: not ready by the deadline") {
    Fake fake;
    LaunchOptions options;
    options.timeout = 100ms;
    auto result = csd::launch::start_on_free_port(fake.hooks(), options);
    CHECK(result.status == LaunchStatus::timed_out);
    CHECK(result.seconds >= 0.1);
    CHECK(result.seconds < 5);
    CHECK(fake.stops == 0);

    options.timeout = std::chrono::steady_clock::duration::max();  // (no overflow)
    options.not_after = std::chrono::steady_clock::now() + 100ms;
    result = csd::launch::start_on_free_port(fake.hooks(), options);
    CHECK(result.status == LaunchStatus::timed_out);
    CHECK(result.seconds < 5);
}

TEST_CASE("start_on_free_port: the default ready test connects") {
    // No ready hook: ready once the port accepts; here a listener of the test.
    csd::Fd listener;
    Fake fake;
    ServerHooks hooks = fake.hooks();
    hooks.ready = nullptr;
    hooks.start = [&](std::uint16_t port) { listener = csd::listen_tcp("127.0.0.1", port); };
    const auto result = csd::launch::start_on_free_port(hooks);
    CHECK(result.status == LaunchStatus::ready);
    CHECK(csd::local_port(listener.get()) == result.port);
}

TEST_CASE("start_on_free_port: missing hooks, and what start throws, go through") {
    Fake fake;
    ServerHooks hooks = fake.hooks();
    hooks.stop = nullptr;
    CHECK_THROWS_AS((void)csd::launch::start_on_free_port(hooks), std::invalid_argument);
    hooks = fake.hooks();
    hooks.start = [](std::uint16_t) {
        throw std::system_error(ENOENT, std::generic_category(), "execve");
    };
    CHECK_THROWS_AS((void)csd::launch::start_on_free_port(hooks), std::system_error);
}
