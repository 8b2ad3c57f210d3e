#include "csd/signals.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "csd/fd.hpp"
#include "csd/net.hpp"

// These tests run in forked children so the test runner keeps its own
// signal dispositions.
namespace {

template <typename F>
int in_child(F body) {
    std::fflush(nullptr);  // the child must not print our buffered output again
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(body());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a routed SIGTERM sets the stop flag and wakes wait_readable") {
    CHECK(in_child([] {
              csd::route_signals({SIGTERM, SIGINT});
              if (csd::stop_requested()) return 1;
              csd::Fd l = csd::listen_tcp("127.0.0.1", 0);
              ::kill(::getpid(), SIGTERM);  // delivered before wait: pipe keeps it
              if (csd::wait_readable(l.get()) != csd::Wakeup::signal) return 2;
              return csd::stop_requested() ? 0 : 3;
          }) == 0);
}

TEST_CASE("drain_signals reports routed signals, SIGCHLD does not ask to stop") {
    CHECK(in_child([] {
              csd::route_signals({SIGCHLD});
              ::kill(::getpid(), SIGCHLD);
              const auto seen = csd::drain_signals();
              if (seen.size() != 1 || seen[0] != SIGCHLD) return 1;
              if (!csd::drain_signals().empty()) return 2;
              return csd::stop_requested() ? 3 : 0;
          }) == 0);
}

TEST_CASE("reset_signals_in_child restores the default action") {
    CHECK(in_child([] {
              csd::route_signals({SIGTERM});
              csd::reset_signals_in_child();
              struct sigaction sa {};
              ::sigaction(SIGTERM, nullptr, &sa);
              return sa.sa_handler == SIG_DFL && csd::signal_fd() == -1 ? 0 : 1;
          }) == 0);
}

TEST_CASE("ignore_sigpipe turns a write to a closed socket into EPIPE") {
    CHECK(in_child([] {
              csd::ignore_sigpipe();
              int sv[2];
              if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
              ::close(sv[1]);
              const ssize_t n = ::write(sv[0], "x", 1);  // plain write, no MSG_NOSIGNAL
              return n == -1 && errno == EPIPE ? 0 : 2;
          }) == 0);
}
