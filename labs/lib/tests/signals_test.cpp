#include "csd/signals.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "csd/fd.hpp"
#include "csd/net.hpp"
#include "csd/serve.hpp"

// These tests run in forked children so the test runner keeps its own
// signal dispositions.
namespace {

template <typename F>
int in_child(F body) {
    std::fflush(nullptr);  // the child must not print our buffered output again
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        csd::reset_signals_in_child();  // not the runner's stop descriptor: it would be shared
        ::_exit(body());
    }
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
              // At once with a handler; soon with the signal thread (TSan).
              pollfd p{csd::signal_fd(), POLLIN, 0};
              if (::poll(&p, 1, 5000) != 1) return 4;
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

TEST_CASE("route_signals refuses a signal routed twice, and more signals than it holds") {
    CHECK(in_child([] {
              try {
                  csd::route_signals({SIGUSR1, SIGUSR1});
                  return 1;
              } catch (const std::logic_error&) {
              }
              struct sigaction sa {};
              ::sigaction(SIGUSR1, nullptr, &sa);
              if (sa.sa_handler != SIG_DFL) return 2;  // nothing installed
              csd::route_signals({SIGUSR1});
              try {
                  csd::route_signals({SIGUSR2, SIGUSR1});
                  return 3;
              } catch (const std::logic_error&) {
              }
              try {
                  csd::route_signals({SIGRTMIN, SIGRTMIN + 1, SIGRTMIN + 2, SIGRTMIN + 3,
                                      SIGRTMIN + 4, SIGRTMIN + 5, SIGRTMIN + 6, SIGRTMIN + 7,
                                      SIGRTMIN + 8, SIGRTMIN + 9, SIGRTMIN + 10, SIGRTMIN + 11,
                                      SIGRTMIN + 12, SIGRTMIN + 13,
                                      SIGRTMIN + 14});  // 16 with SIGUSR1: fits
              } catch (const std::logic_error&) {
                  return 4;
              }
              try {
                  csd::route_signals({SIGUSR2});  // the 17th
                  return 5;
              } catch (const std::logic_error&) {
              }
              return 0;
          }) == 0);
}

TEST_CASE("request_stop makes stop_fd readable for good: every waiter sees it") {
    CHECK(in_child([] {
              const int fd = csd::stop_fd();
              pollfd p{fd, POLLIN, 0};
              if (::poll(&p, 1, 0) != 0) return 1;  // not yet
              int woken = 0;
              std::thread a([&] {
                  pollfd q{fd, POLLIN, 0};
                  if (::poll(&q, 1, 5000) == 1) ++woken;
              });
              std::this_thread::sleep_for(std::chrono::milliseconds(20));
              csd::request_stop();
              a.join();
              if (woken != 1 || !csd::stop_requested()) return 2;
              // Still readable for the next waiter, and the next.
              for (int i = 0; i < 3; ++i) {
                  if (::poll(&p, 1, 0) != 1) return 3;
              }
              return csd::wait_for_stop(std::chrono::hours(1)) ? 0 : 4;  // returns at once
          }) == 0);
}

TEST_CASE("a routed SIGTERM makes stop_fd readable; SIGCHLD does not") {
    CHECK(in_child([] {
              csd::route_signals({SIGTERM, SIGCHLD});
              pollfd p{csd::stop_fd(), POLLIN, 0};
              ::kill(::getpid(), SIGCHLD);
              if (::poll(&p, 1, 0) != 0) return 1;
              if (csd::wait_for_stop(std::chrono::milliseconds(10))) return 2;  // times out
              ::kill(::getpid(), SIGTERM);
              return ::poll(&p, 1, 5000) == 1 && csd::stop_requested() ? 0 : 3;
          }) == 0);
}

TEST_CASE("fork_child: the child starts with default signals, no stop, no inherited descriptors") {
    CHECK(in_child([] {
              csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
              csd::request_stop();
              const int parent_stop = csd::stop_fd();
              sigset_t mask_before;
              ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);
              const pid_t pid = csd::fork_child();
              if (pid < 0) return 1;
              if (pid == 0) {
                  struct sigaction sa {};
                  ::sigaction(SIGTERM, nullptr, &sa);
                  sigset_t child_mask;
                  ::pthread_sigmask(SIG_SETMASK, nullptr, &child_mask);
                  const bool ok = sa.sa_handler == SIG_DFL && csd::signal_fd() == -1 &&
                                  !csd::stop_requested() && ::fcntl(parent_stop, F_GETFD) == -1 &&
                                  sigismember(&child_mask, SIGTERM) == 0;
                  ::_exit(ok ? 0 : 1);
              }
              int status = 0;
              if (::waitpid(pid, &status, 0) != pid) return 2;
              // The parent keeps its routing and its mask.
              sigset_t mask;
              ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
              if (sigismember(&mask, SIGTERM) != sigismember(&mask_before, SIGTERM)) return 3;
              if (!csd::stop_requested()) return 4;
              return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 5;
          }) == 0);
}

namespace {

/// Waits up to @p limit for @p pid to end; returns its wait status, or -1
/// (after killing it) when it did not end in time.
int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return status;
}

}  // namespace

// The race of the fork lab (issue 6): a SIGTERM that reaches the child
// between fork() and the reset of its signals ran the inherited handler,
// then the reset forgot the stop, and the child served its idle client
// forever. With fork_child() the signal waits, blocked, and then kills.
TEST_CASE(
    "fork race: SIGTERM at once after fork_child() always ends a child serving an idle client") {
    CHECK(in_child([] {
              csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
              constexpr int rounds = 300;
              int hung = 0;
              for (int round = 0; round < rounds; ++round) {
                  auto [server, client] = csd::socket_pair();  // the client never sends
                  const pid_t pid = csd::fork_child();
                  if (pid < 0) return 100;
                  if (pid == 0) {
                      client.reset();
                      (void)csd::serve_connection(server.get());
                      ::_exit(0);
                  }
                  ::kill(pid, SIGTERM);  // at once: often before the child ran at all
                  const int status = wait_bounded(pid, std::chrono::seconds(5));
                  if (status == -1) {
                      ++hung;
                  } else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
                      return 101;
                  }
              }
              (void)csd::drain_signals();
              std::printf("fork race: %d of %d children hung\n", hung, rounds);
              std::fflush(stdout);
              return hung == 0 ? 0 : 1;
          }) == 0);
}
