// syscall: when idle, the server's thread is blocked in the lab's multiplexing call.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <thread>

#include "timing.hpp"
#include "checks.hpp"
#include "procfs.hpp"
#include "syscalls.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

std::string accepted_calls(const LabInfo& lab) {
    std::string text;
    for (const auto call : lab.wait_calls) text += (text.empty() ? "" : " or ") + std::string(call);
    return text;
}

}  // namespace

void check_syscall(Context& ctx) {
    const LabInfo& lab = ctx.lab();
    std::this_thread::sleep_for(scaled(200ms));  // let the server go idle
    constexpr int samples = 7;
    int in_call = 0;
    std::map<std::string, int> seen;
    for (int i = 0; i < samples; ++i) {
        if (i > 0) std::this_thread::sleep_for(scaled(50ms));
        const auto s = procfs::current_syscall(ctx.pid());
        if (!s.readable) {
            ctx.require_running("while idle");
            skip(
                fmt::format("{} (the grader needs to read it for its own child process; "
                            "this is a limit of where the grader runs, not of your server)",
                            s.raw));
        }
        const std::string name = s.running  ? "running (not in a system call)"
                                 : s.number ? syscall_name(*s.number)
                                            : "not in a system call";
        ++seen[name];
        if (std::find(lab.wait_calls.begin(), lab.wait_calls.end(), name) != lab.wait_calls.end()) {
            ++in_call;
        }
    }
    if (in_call * 2 <= samples) {
        std::string what;
        for (const auto& [name, count] : seen) {
            what += fmt::format("{}{} ({}x)", what.empty() ? "" : ", ", name, count);
        }
        fail(fmt::format("idle, the server (pid {}) was in {} in only {} of {} samples of "
                         "/proc/{}/syscall over 300 ms; it was in: {}",
                         ctx.pid(), accepted_calls(lab), in_call, samples, ctx.pid(), what),
             fmt::format("when there is nothing to do, block in {}() on all your descriptors "
                         "(the listening socket too), not in accept(), read(), a sleep or a "
                         "loop with a zero timeout",
                         lab.wait_calls.front()));
    }
    if (lab.needs_eventpoll) {
        const auto fds = procfs::open_fds(ctx.pid());
        const bool has_epoll = std::any_of(fds.begin(), fds.end(), [](const procfs::FdInfo& fd) {
            return fd.target == "anon_inode:[eventpoll]";
        });
        if (!has_epoll) {
            fail(fmt::format("the server (pid {}) holds no epoll descriptor "
                             "(anon_inode:[eventpoll]) among its {} descriptors",
                             ctx.pid(), fds.size()),
                 "create one epoll instance with epoll_create1(EPOLL_CLOEXEC) and wait in "
                 "epoll_wait()");
        }
    }
}

}  // namespace csd::grade
