// The uring lab's part of the architecture check: the server holds an
// io_uring instance and no epoll instance, and io_uring's own kernel threads
// are told apart from the server's threads.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>

#include "checks.hpp"
#include "models.hpp"
#include "procfs.hpp"

namespace csd::grade {

int io_uring_kernel_threads(pid_t pid) {
    // By the kernel's flag, not by the name: a thread of the server may call
    // itself "iou-wrk-1" (pthread_setname_np), it does not become a worker.
    int count = 0;
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (procfs::is_io_worker(pid, tid)) ++count;
    }
    return count;
}

void require_ring_not_epoll(Context& ctx, std::string_view when) {
    const auto fds = procfs::open_fds(ctx.pid());
    if (fds.empty()) ctx.require_running(std::string(when));
    const auto holds = [&](std::string_view target) {
        return std::any_of(fds.begin(), fds.end(),
                           [&](const procfs::FdInfo& fd) { return fd.target == target; });
    };
    const auto epoll = std::find_if(fds.begin(), fds.end(), [](const procfs::FdInfo& fd) {
        return fd.target == "anon_inode:[eventpoll]";
    });
    if (epoll != fds.end()) {
        fail(fmt::format("{}: the server (pid {}) holds an epoll descriptor (fd {} -> "
                         "anon_inode:[eventpoll], /proc/{}/fd)",
                         when, ctx.pid(), epoll->fd, ctx.pid()),
             "this lab waits in io_uring_enter() only: no epoll, select or poll; the ring "
             "does the waiting (its requests complete when a socket is ready)");
    }
    if (!holds("anon_inode:[io_uring]")) {
        fail(fmt::format("{}: the server (pid {}) holds no io_uring descriptor "
                         "(anon_inode:[io_uring]) among its {} descriptors (/proc/{}/fd)",
                         when, ctx.pid(), fds.size(), ctx.pid()),
             "set up one ring (csd::Ring, io_uring_queue_init) and make every accept, recv and "
             "send through it");
    }
}

}  // namespace csd::grade
