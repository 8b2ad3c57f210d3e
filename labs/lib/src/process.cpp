// fork_child(): the fork lab's lesson, given to the later labs that fork
// (csd::lab_process, labs/lib/CMakeLists.txt); the fork lab itself links
// csd::lab_serve, without it.
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "csd/signals.hpp"
#include "signals_detail.hpp"

namespace csd {

pid_t fork_child() noexcept {
    const sigset_t routed = detail::routed_signals();
    sigset_t before;
    if (const int rc = ::pthread_sigmask(SIG_BLOCK, &routed, &before); rc != 0) {
        errno = rc;
        return -1;
    }
    const pid_t pid = ::fork();
    const int fork_errno = errno;
    if (pid == 0) {
        // No routed handler can run here: they are blocked. Reset, then
        // unblock: a pending SIGTERM now has its default action.
        reset_signals_in_child();
        if (detail::routed_signals_blocked_for_good()) {
            // The parent blocks them for good (its signal thread takes
            // them); the child has no such thread.
            for (int sig = 1; sig <= 64; ++sig) {
                if (sigismember(&routed, sig) == 1) sigdelset(&before, sig);
            }
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    errno = fork_errno;
    return pid;
}

}  // namespace csd
