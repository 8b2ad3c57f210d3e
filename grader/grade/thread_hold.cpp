#include "thread_hold.hpp"

#include <fmt/format.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "deadline.hpp"
#include "timing.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

ThreadHold::ThreadHold(pid_t pid, pid_t tid) : tid_(tid) {
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
        why_not_ = fmt::format("ptrace(PTRACE_SEIZE) on thread {} of process {}: {}", tid, pid,
                               std::strerror(errno));
        return;
    }
    attached_ = true;
    if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
        why_not_ =
            fmt::format("ptrace(PTRACE_INTERRUPT) on thread {}: {}", tid, std::strerror(errno));
        return;
    }
    // The stop the interrupt asked for (PTRACE_EVENT_STOP); a signal the
    // thread was given first stops it too: keep it for the release, and
    // wait on for the interrupt's stop.
    const Deadline deadline(scaled(1s));
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(tid, &status, __WALL | WNOHANG);
        if (r == tid && (WIFEXITED(status) || WIFSIGNALED(status))) {
            attached_ = false;
            ended_ = true;
            why_not_ = fmt::format("thread {} ended before it could be held", tid);
            return;
        }
        if (r == tid && WIFSTOPPED(status)) {
            if ((status >> 16) == PTRACE_EVENT_STOP) return;  // held
            pending_signal_ = WSTOPSIG(status);
            // A signal-delivery stop: on to the interrupt's stop, the
            // signal kept (0 here: it is handed over at the release).
            (void)::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
            (void)::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
            continue;
        }
        if (r < 0 && errno != EINTR) {
            why_not_ = fmt::format("waitpid on thread {}: {}", tid, std::strerror(errno));
            return;
        }
        if (deadline.expired()) {
            why_not_ = fmt::format("thread {} did not stop within {:.0f} ms", tid,
                                   scaled_seconds(1s) * 1000);
            return;
        }
        std::this_thread::sleep_for(1ms);
    }
}

ThreadHold::~ThreadHold() {
    release();
}

ThreadHold::Fate ThreadHold::fate() {
    if (ended_) return Fate::ended;
    if (!attached_) return Fate::held;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(tid_, &status, __WALL | WNOHANG);
        if (r == tid_ && (WIFEXITED(status) || WIFSIGNALED(status))) {
            attached_ = false;
            ended_ = true;
            return Fate::ended;
        }
        if (r == tid_ && WIFSTOPPED(status)) {
            const int event = status >> 16;
            if (event == PTRACE_EVENT_EXIT) {
                // Killed by its process's exit (exit_group), about to go.
                ended_ = true;
                return Fate::ended;
            }
            if (event == 0 && WSTOPSIG(status) != SIGTRAP) {
                // A signal for it while held: kept, and the thread stays
                // stopped (it is in a signal-delivery stop now).
                pending_signal_ = WSTOPSIG(status);
            }
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            // ECHILD: the thread is gone (reaped with its process).
            attached_ = false;
            ended_ = true;
            return Fate::ended;
        }
        return Fate::held;
    }
}

void ThreadHold::release() {
    if (!attached_ || ended_) return;
    (void)::ptrace(PTRACE_DETACH, tid_, nullptr,
                   reinterpret_cast<void*>(static_cast<long>(pending_signal_)));
    attached_ = false;
}

}  // namespace csd::grade
