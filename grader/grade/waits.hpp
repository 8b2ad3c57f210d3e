#pragma once
/// @file waits.hpp
/// @brief What one thread of the server is blocked in, and on which of its
/// descriptors: the system call in /proc/PID/task/TID/syscall, its
/// descriptor sets read from the server's memory (/proc/PID/mem: a poll()
/// array, a select() read set) or from the interest list of the epoll
/// instance it waits on (/proc/PID/fdinfo/EPFD).
///
/// describe() is pure (its readers are given); wait_of() reads /proc. A
/// thread may move on between two reads: callers sample more than once.
/// Usable from any thread.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs.hpp"

namespace csd::grade::waits {

/// What a thread was blocked in when it was looked at.
struct TaskWait {
    pid_t pid = 0;          ///< The process.
    pid_t tid = 0;          ///< The thread.
    bool readable = false;  ///< False: its /proc/TID/syscall could not be read.
    std::string call;       ///< "accept4", "futex", "running", "" (not in a system call).
    std::vector<int> fds;   ///< The descriptors it waits on, sorted (none known: empty).
    /// The descriptors it waits to write to, sorted: blocked in a write on
    /// one (write, writev, sendto, sendmsg, sendmmsg, sendfile, splice),
    /// or waiting for room in them (select's write set, POLLOUT, EPOLLOUT).
    std::vector<int> write_fds = {};
    bool record_lock = false;  ///< In fcntl(F_SETLKW) or fcntl(F_OFD_SETLKW).
    /// An epoll wait: the event mask of each descriptor of the epoll set.
    std::map<int, std::uint32_t> epoll_events = {};
    /// An epoll wait: the epoll descriptor it waits on (-1: none).
    int epoll_fd = -1;
    /// When the wait ends by itself: "a timeout of 400 ms", "a sleep", "a
    /// deadline 3 ms away" (a futex FUTEX_WAIT_BITSET's absolute deadline),
    /// "a timeout" (one that could not be read); "" when it waits with no
    /// timeout.
    std::string timeout = {};
    /// The timeout in milliseconds, when the call has one that could be read
    /// (a futex deadline: the time left until it, at most its period).
    std::optional<double> timeout_ms = std::nullopt;

    /// True when it waits on descriptor @p fd.
    [[nodiscard]] bool waits_on(int fd) const;
    /// True when it is asleep: in a sleep call (is_sleep_call()), or in a
    /// poll, ppoll, select or pselect6 on no descriptor with a timeout (a
    /// sleep by another name).
    [[nodiscard]] bool asleep() const;
    /// "accept4 on fd 3", "poll on fds 3, 5", "futex", "fcntl(F_SETLKW)",
    /// "running", for messages.
    [[nodiscard]] std::string text() const;
};

/// True for the system calls that do nothing but sleep: nanosleep and
/// clock_nanosleep (what usleep, sleep and std::this_thread::sleep_for
/// become), by their names in /proc, strace and perf.
[[nodiscard]] bool is_sleep_call(std::string_view call);

/// Where describe() gets what the system call's arguments point to.
struct Readers {
    /// @p size bytes of the process's memory at an address (nullopt: unreadable).
    std::function<std::optional<std::string>(std::uint64_t address, std::size_t size)> memory;
    /// The interest list of one of the process's epoll descriptors (nullopt: unreadable).
    std::function<std::optional<std::vector<procfs::EpollEntry>>(int epfd)> epoll;
};

/// What the sample @p s of /proc/TID/syscall says the thread waits on:
/// accept, accept4, read, recvfrom, recvmsg: its first argument; select,
/// pselect6: the read set; poll, ppoll: the array; epoll_wait, epoll_pwait,
/// epoll_pwait2: the epoll set; fcntl: whether it waits for a record lock.
/// And what it waits to write to (TaskWait::write_fds).
[[nodiscard]] TaskWait describe(const procfs::SyscallSample& s, const Readers& from);

/// The descriptors set in the select() read set @p bytes of @p nfds bits.
[[nodiscard]] std::vector<int> fds_in_fd_set(std::string_view bytes, std::uint64_t nfds);

/// The descriptors (fd >= 0) of the array of struct pollfd in @p bytes;
/// with @p events, only those that ask for one of them.
[[nodiscard]] std::vector<int> fds_in_pollfds(std::string_view bytes, short events = 0);

/// What thread @p tid of process @p pid waits on now.
[[nodiscard]] TaskWait wait_of(pid_t pid, pid_t tid);

/// The descriptors of @p pid that are sockets listening on @p port.
[[nodiscard]] std::vector<int> listener_fds(pid_t pid, std::uint16_t port);

/// The descriptor of @p pid for the server side of its connection with the
/// client at local port @p client_port, nullopt when it holds none.
[[nodiscard]] std::optional<int> connection_fd(pid_t pid, std::uint16_t server_port,
                                               std::uint16_t client_port);

/// True when @p w waits on one of @p fds.
[[nodiscard]] bool waits_on_any(const TaskWait& w, const std::vector<int>& fds);

/// "1201 in accept4 on fd 3; 1202 in futex" for messages (pids when @p
/// by_process, else thread ids).
[[nodiscard]] std::string list_text(const std::vector<TaskWait>& waits, bool by_process);

}  // namespace csd::grade::waits
