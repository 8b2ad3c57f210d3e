// stop_hammer SERVER ROUNDS [ARGS...]: SIGTERM sent to a lab server while
// clients keep connecting, ROUNDS times. Each round starts
// `SERVER -p PORT ARGS...` on a free port (in its own process group),
// connects clients from a thread (most stay silent, every fourth sends a
// request and then stays idle), sends SIGTERM in the middle of it, and then
// expects the server to exit with status 0, leaving no process of its group
// behind. A server that
// hangs (before fork_child(): a child that got SIGTERM between fork() and
// the reset of its signals, serving its idle client forever, and the parent
// waiting for it) is killed after a generous bound and the round fails.
//
// Exit status: 0 when every round ended well, 1 otherwise, 2 on a usage
// error.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/net.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The timing scale of the grader (CSD_TIME_SCALE), for slow builds.
double time_scale() {
    const char* s = std::getenv("CSD_TIME_SCALE");
    const double v = s != nullptr ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

/// A port nobody listens on right now (bound to 0, then released).
std::uint16_t free_port() {
    const csd::Fd probe = csd::listen_tcp("127.0.0.1", 0);
    return csd::local_port(probe.get());
}

/// Connects to 127.0.0.1:@p port; an empty Fd when refused.
csd::Fd connect_to(std::uint16_t port) {
    csd::Fd fd(csd::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return {};
    return fd;
}

/// A started server: its pid (also its process group) and its stdout.
struct Server {
    pid_t pid = -1;
    csd::Fd out;
};

/// Starts `@p path -p @p port @p args...` in a new process group, stdout on
/// a pipe.
Server start(const char* path, std::uint16_t port, const std::vector<char*>& args) {
    int ends[2];
    csd::check(::pipe2(ends, O_CLOEXEC), "pipe2");
    csd::Fd read_end(ends[0]);
    csd::Fd write_end(ends[1]);
    std::string port_option = "-p";
    std::string port_text = std::to_string(port);
    // execv() takes char* const[] and does not write through it.
    std::vector<char*> argv = {const_cast<char*>(path), port_option.data(), port_text.data()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(nullptr);
    const pid_t pid = csd::check(::fork(), "fork");
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::execv(path, argv.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: no race with the kill below
    return {pid, std::move(read_end)};
}

/// Waits until the server printed its "Listening on" line.
bool wait_ready(const Server& s, std::chrono::milliseconds limit) {
    std::string seen;
    const auto deadline = Clock::now() + limit;
    while (seen.find('\n') == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{s.out.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[256];
        const ssize_t n = ::read(s.out.get(), buf, sizeof buf);
        if (n <= 0) return false;
        seen.append(buf, static_cast<std::size_t>(n));
    }
    return seen.starts_with("Listening on");
}

/// Waits for @p pid to exit within @p limit, its wait status in @p status;
/// false (after SIGKILL to its group) when it did not.
bool wait_exit(pid_t pid, std::chrono::milliseconds limit, int& status) {
    const auto deadline = Clock::now() + limit;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            // CSD_HAMMER_GDB=1: the hung server's threads, as gdb sees
            // them, before it is killed (to find where it hangs).
            if (const char* g = std::getenv("CSD_HAMMER_GDB"); g != nullptr && *g == '1') {
                const std::string command =
                    "gdb -p " + std::to_string(pid) + " -batch -ex 'thread apply all bt' 1>&2";
                [[maybe_unused]] const int rc = std::system(command.c_str());
            }
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// True when a process of group @p pgid is still alive, after a short grace.
bool group_alive(pid_t pgid, std::chrono::milliseconds grace) {
    const auto deadline = Clock::now() + grace;
    while (::kill(-pgid, 0) == 0) {
        if (Clock::now() > deadline) {
            ::kill(-pgid, SIGKILL);
            return true;
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s SERVER ROUNDS [ARGS...]\n", argv[0]);
        return 2;
    }
    const char* server_path = argv[1];
    const int rounds = std::atoi(argv[2]);
    const std::vector<char*> server_args(argv + 3, argv + argc);
    const double scale = time_scale();
    const auto scaled = [scale](std::chrono::milliseconds d) {
        return std::chrono::milliseconds(static_cast<long>(static_cast<double>(d.count()) * scale));
    };
    ::signal(SIGPIPE, SIG_IGN);
    std::mt19937 random(12345);
    int hung = 0;
    int orphans = 0;
    int bad_exits = 0;
    for (int round = 0; round < rounds; ++round) {
        // The free port may be taken by another test before the server binds
        // it (then the server exits at once: "Address already in use"): a
        // server that ended before announcing itself is started again on
        // another port, a few times, as csd-grade does.
        std::uint16_t port = 0;
        Server server;
        for (int attempt = 1;; ++attempt) {
            port = free_port();
            server = start(server_path, port, server_args);
            if (wait_ready(server, scaled(10s))) break;
            bool exited = false;  // its stdout closed: it is ending, give it 0.5 s
            for (int i = 0; i < 100 && !exited; ++i) {
                exited = ::waitpid(server.pid, nullptr, WNOHANG) == server.pid;
                if (!exited) std::this_thread::sleep_for(5ms);
            }
            if (!exited) {
                ::kill(-server.pid, SIGKILL);
                ::waitpid(server.pid, nullptr, 0);
            }
            if (!exited || attempt == 5) {
                std::fprintf(stderr, "round %d: the server did not announce itself\n", round);
                return 1;
            }
            std::fprintf(stderr, "round %d: the server ended at start (port %u taken?); again\n",
                         round, static_cast<unsigned>(port));
        }
        // Clients keep connecting (and stay connected, most of them silent,
        // every fourth after a request for 1 byte) before, during and after
        // the SIGTERM.
        std::atomic<bool> done{false};
        std::thread connector([&] {
            std::vector<csd::Fd> idle;
            while (!done.load() && idle.size() < 300) {
                if (csd::Fd c = connect_to(port)) {
                    if (idle.size() % 4 == 3) (void)::send(c.get(), "1\n", 2, MSG_NOSIGNAL);
                    idle.push_back(std::move(c));
                }
                std::this_thread::sleep_for(200us);
            }
            while (!done.load()) std::this_thread::sleep_for(1ms);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + random() % 40));
        ::kill(server.pid, SIGTERM);
        int status = 0;
        const bool exited = wait_exit(server.pid, scaled(10s), status);
        if (!exited) ++hung;
        if (exited && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            ++bad_exits;
            std::fprintf(stderr, "round %d: the server ended with wait status %d\n", round, status);
        }
        // The server reaped its children before exiting: none may be left.
        if (exited && group_alive(server.pid, scaled(1s))) ++orphans;
        done.store(true);
        connector.join();
        if (!exited)
            std::fprintf(stderr, "round %d: the server did not exit after SIGTERM\n", round);
    }
    std::printf(
        "stop_hammer: %d rounds, %d hung, %d left processes behind, %d did not exit with 0\n",
        rounds, hung, orphans, bad_exits);
    return hung == 0 && orphans == 0 && bad_exits == 0 ? 0 : 1;
}
