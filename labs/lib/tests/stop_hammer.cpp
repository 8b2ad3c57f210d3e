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
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "launch.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The timing scale of the grader (CSD_TIME_SCALE), for slow builds.
double time_scale() {
    const char* s = std::getenv("CSD_TIME_SCALE");
    const double v = s != nullptr ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
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

/// A started server: its pid (also its process group), its stdout (a pipe,
/// non-blocking here) and its stderr (a memfd, shown once the round ends).
struct Server {
    pid_t pid = -1;
    csd::Fd out;
    csd::Fd err;
    std::string seen;  // what it wrote on stdout so far
};

/// Starts `@p path -p @p port @p args...` in a new process group, stdout on
/// a pipe and stderr into a memfd; returns at once.
Server start(const char* path, std::uint16_t port, const std::vector<char*>& args) {
    int ends[2];
    csd::check(::pipe2(ends, O_CLOEXEC), "pipe2");
    csd::Fd read_end(ends[0]);
    csd::Fd write_end(ends[1]);
    // Only the hammer's end does not block: the server's stdout does.
    csd::check(::fcntl(read_end.get(), F_SETFL, O_NONBLOCK), "fcntl");
    csd::Fd err(csd::check(::memfd_create("stop_hammer-stderr", MFD_CLOEXEC), "memfd_create"));
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
        ::dup2(err.get(), STDERR_FILENO);
        ::execv(path, argv.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: no race with the kill below
    return {pid, std::move(read_end), std::move(err), {}};
}

/// True once the server printed its line `Listening on HOST:PORT`.
bool announced(Server& s, std::uint16_t port) {
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(s.out.get(), buf, sizeof buf)) > 0) {
        s.seen.append(buf, static_cast<std::size_t>(n));
    }
    const auto nl = s.seen.find('\n');
    return nl != std::string::npos && s.seen.starts_with("Listening on ") &&
           std::string_view(s.seen).substr(0, nl).ends_with(":" + std::to_string(port));
}

/// True once @p pid has ended (not reaped: left for a kill of its group).
bool ended(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
}

/// Everything the server wrote on stderr (its memfd).
std::string stderr_of(const Server& s) {
    std::string text;
    char buf[4096];
    off_t offset = 0;
    ssize_t n = 0;
    while ((n = ::pread(s.err.get(), buf, sizeof buf, offset)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
        offset += n;
    }
    return text;
}

/// Kills the server's group and reaps it.
void kill_server(const Server& s) {
    ::kill(-s.pid, SIGKILL);
    ::waitpid(s.pid, nullptr, 0);
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
        // it (then the server exits at once: "Address already in use"): it is
        // started again on another port, a few times, as csd-grade does
        // (csd::launch::start_on_free_port()).
        Server server;
        std::uint16_t tried = 0;
        csd::launch::ServerHooks hooks;
        hooks.start = [&](std::uint16_t p) {
            tried = p;
            server = start(server_path, p, server_args);
        };
        hooks.ended = [&] { return ended(server.pid); };
        hooks.port_in_use = [&] { return csd::launch::said_address_in_use(stderr_of(server)); };
        hooks.ready = [&](std::uint16_t p) { return announced(server, p); };
        hooks.stop = [&] {
            std::fprintf(stderr, "round %d: port %u was taken, the server ended at start; again\n",
                         round, static_cast<unsigned>(tried));
            kill_server(server);
        };
        csd::launch::LaunchOptions options;
        options.timeout = scaled(10s);
        const csd::launch::LaunchResult launched = csd::launch::start_on_free_port(hooks, options);
        if (launched.status != csd::launch::LaunchStatus::ready) {
            const bool gone = ended(server.pid);
            kill_server(server);
            std::fprintf(stderr, "round %d: the server did not announce itself (%s)\n%s", round,
                         gone ? "it ended" : "not in time, killed", stderr_of(server).c_str());
            return 1;
        }
        const std::uint16_t port = launched.port;
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
        // The server's stderr (its logs), in the hammer's.
        std::fputs(stderr_of(server).c_str(), stderr);
        if (!exited)
            std::fprintf(stderr, "round %d: the server did not exit after SIGTERM\n", round);
    }
    std::printf(
        "stop_hammer: %d rounds, %d hung, %d left processes behind, %d did not exit with 0\n",
        rounds, hung, orphans, bad_exits);
    return hung == 0 && orphans == 0 && bad_exits == 0 ? 0 : 1;
}
