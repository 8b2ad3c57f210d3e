// Servers that make grading hard, built once per behaviour named by
// CSD_HOSTILE. The grader must grade each quickly and leave no process:
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
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include <string_view>
#include <vector>

#include "test_server.hpp"

#ifndef CSD_HOSTILE
#define CSD_HOSTILE "never-answers"
#endif

namespace {

using namespace test_server;

constexpr std::string_view behaviour = CSD_HOSTILE;

// True the first time any process of this test runs it (creates the marker file).
bool first_start() {
    const char* marker = std::getenv("CSD_TEST_MARKER");
    if (marker == nullptr || *marker == '\0') return false;
    const int fd = ::open(marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
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
    catch_stop();
    const int listener = listen_on(o);
    announce(o);
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
