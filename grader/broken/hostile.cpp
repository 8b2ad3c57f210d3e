// Servers that make grading hard, one program whose behaviour is named by
// the name it is started by (hostile-BEHAVIOUR, see broken_bug.hpp). The
// grader must grade each quickly and leave no process:
//   never-listens   prints nothing, never listens, ignores SIGTERM
//   never-answers   listens and announces, accepts every connection and
//                   never reads or answers, ignores SIGTERM
//   port-race       a correct (iterative) server whose first start fails the
//                   way a port taken in between makes it fail: "bind: Address
//                   already in use" on stderr, exit status 1 (the file named by
//                   $CSD_TEST_MARKER records that the first start happened)
//   port-steal      the same, but on its first start another process (a
//                   daemon, no longer its descendant) listens on the port
//                   first, and the server waits without a word
// The following serve correctly (one client at a time) besides their flaw:
//   fork-bomb       first forks a tree of 2,047 processes (each forks two
//                   more, 10 levels down) that ignore SIGTERM and sleep
//   daemon          first starts a daemon (double fork + setsid) that
//                   ignores SIGTERM and keeps running; the server itself
//                   exits with status 0 at once on SIGTERM
//   spew            writes megabytes to stdout and stderr without pause
//                   (a thread), after the Listening line
//   spin            a second thread spins at 100 % CPU
//   alloc           first allocates (and touches) 64 MiB blocks until
//                   refused, up to 8 GiB; when refused, makes the file
//                   named by $CSD_TEST_MARKER (the memory limit works)
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

#include "broken_bug.hpp"
#include "test_server.hpp"

namespace {

using namespace test_server;

/// The behaviour of this server, set first thing in main().
std::string_view behaviour;

// True the first time any process of this test runs it (creates the marker file).
bool first_start() {
    const char* marker = std::getenv("CSD_TEST_MARKER");
    if (marker == nullptr || *marker == '\0') return false;
    const int fd = ::open(marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

// Makes the file named by $CSD_TEST_MARKER (whatever the run).
void make_marker() {
    const char* marker = std::getenv("CSD_TEST_MARKER");
    if (marker == nullptr || *marker == '\0') return;
    const int fd = ::open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
}

// Forks two children that do the same, @p levels levels down; every process
// ignores SIGTERM and sleeps. Returns in the caller only.
void fork_tree(int levels) {
    for (int i = 0; i < 2 && levels > 0; ++i) {
        const pid_t child = ::fork();
        if (child < 0) return;  // refused: the bomb is bounded anyway
        if (child == 0) {
            ::signal(SIGTERM, SIG_IGN);
            fork_tree(levels - 1);
            for (;;) ::pause();
        }
    }
}

// A daemon the classic way: fork, setsid, fork again; it ignores SIGTERM.
void start_daemon() {
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) {
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        ::signal(SIGTERM, SIG_IGN);
        for (;;) ::pause();
    }
    ::waitpid(child, nullptr, 0);
}

// Allocates and touches 64 MiB blocks until refused (or 8 GiB); true when refused.
bool allocate_until_refused() {
    constexpr std::size_t block = 64UL << 20;
    for (std::size_t total = 0; total < (8UL << 30); total += block) {
        auto* p = static_cast<char*>(std::malloc(block));
        if (p == nullptr) return true;
        for (std::size_t i = 0; i < block; i += 64 * 1024) p[i] = 1;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    behaviour = broken::bug_from_name(
        argv[0],
        "never-listens never-answers port-race port-steal fork-bomb daemon spew spin alloc",
        "hostile-");
    const Options o = parse(argc, argv);
    if (behaviour == "never-listens") {
        ::signal(SIGTERM, SIG_IGN);
        for (;;) ::pause();
    }
    if (behaviour == "never-answers") {
        ::signal(SIGTERM, SIG_IGN);
        const int listener = listen_on(o);
        announce(o);
        std::vector<int> held;
        for (;;) {
            const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) held.push_back(fd);
        }
    }
    if (behaviour == "port-race" && first_start()) {
        std::fprintf(stderr, "bind: Address already in use\n");
        return 1;
    }
    if (behaviour == "port-steal" && first_start()) {
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) < 0) die("pipe2");
        const pid_t child = ::fork();
        if (child < 0) die("fork");
        if (child == 0) {
            if (::fork() != 0) ::_exit(0);  // the daemon is the grandchild, then an orphan
            const int stolen = listen_on(o);
            (void)::write(ready[1], "r", 1);
            ::sleep(30);  // the grader ends it long before
            ::close(stolen);
            ::_exit(0);
        }
        ::waitpid(child, nullptr, 0);
        char byte = 0;
        (void)::read(ready[0], &byte, 1);
        for (;;) ::pause();  // never binds, says nothing
    }
    if (behaviour == "fork-bomb") fork_tree(10);
    if (behaviour == "daemon") start_daemon();
    if (behaviour == "alloc" && allocate_until_refused()) make_marker();
    catch_stop();
    if (behaviour == "daemon") ::signal(SIGTERM, [](int) { ::_exit(0); });
    const int listener = listen_on(o);
    announce(o);
    if (behaviour == "spew") {
        std::thread([] {
            const std::string line(1023, 'x');
            for (;;) {
                (void)!std::fwrite(line.data(), 1, line.size(), stdout);
                std::fputc('\n', stdout);
                std::fputs("spew: another line on stderr\n", stderr);
            }
        }).detach();
    }
    if (behaviour == "spin") {
        std::thread([] {
            std::atomic<unsigned long> spins{0};
            for (;;) spins.fetch_add(1, std::memory_order_relaxed);
        }).detach();
    }
    while (stop == 0) {
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        serve(fd);
        ::close(fd);
    }
    return 0;
}
