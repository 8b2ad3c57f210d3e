#include "waits.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>

#include "syscalls.hpp"

namespace csd::grade::waits {
namespace {

// More descriptors than this in one poll()/select() are not read.
constexpr std::uint64_t max_fds = 1 << 16;

std::vector<int> sorted(std::vector<int> fds) {
    std::sort(fds.begin(), fds.end());
    fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
    return fds;
}

std::string fds_text(const std::vector<int>& fds) {
    if (fds.empty()) return "";
    constexpr std::size_t shown = 6;
    std::string text = fds.size() == 1 ? " on fd " : " on fds ";
    for (std::size_t i = 0; i < fds.size() && i < shown; ++i) {
        text += fmt::format("{}{}", i == 0 ? "" : ", ", fds[i]);
    }
    if (fds.size() > shown) text += fmt::format(" (and {} more)", fds.size() - shown);
    return text;
}

}  // namespace

bool TaskWait::waits_on(int fd) const {
    return std::binary_search(fds.begin(), fds.end(), fd);
}

bool TaskWait::asleep() const {
    if (is_sleep_call(call)) return true;
    const bool fd_wait =
        call == "poll" || call == "ppoll" || call == "select" || call == "pselect6";
    return fd_wait && fds.empty() && write_fds.empty() && !timeout.empty();
}

bool is_sleep_call(std::string_view call) {
    return call == "nanosleep" || call == "clock_nanosleep";
}

std::string TaskWait::text() const {
    if (!readable) return "(unreadable)";
    if (call.empty()) return "not in a system call";
    if (record_lock) return "fcntl(F_SETLKW)";
    return call + fds_text(fds.empty() ? write_fds : fds);
}

std::vector<int> fds_in_fd_set(std::string_view bytes, std::uint64_t nfds) {
    std::vector<int> out;
    const std::uint64_t bits = std::min<std::uint64_t>(nfds, bytes.size() * 8);
    for (std::uint64_t fd = 0; fd < bits; ++fd) {
        const auto byte = static_cast<unsigned char>(bytes[fd / 8]);
        if ((byte >> (fd % 8)) & 1U) out.push_back(static_cast<int>(fd));
    }
    return out;
}

std::vector<int> fds_in_pollfds(std::string_view bytes, short events) {
    std::vector<int> out;
    for (std::size_t at = 0; at + sizeof(pollfd) <= bytes.size(); at += sizeof(pollfd)) {
        pollfd p{};
        std::memcpy(&p, bytes.data() + at, sizeof p);
        if (p.fd >= 0 && (events == 0 || (p.events & events) != 0)) out.push_back(p.fd);
    }
    return sorted(std::move(out));
}

namespace {

// futex(2)'s FUTEX_CLOCK_REALTIME: a FUTEX_WAIT_BITSET deadline on CLOCK_REALTIME.
constexpr std::uint64_t futex_clock_realtime = 256;

// io_uring_enter()'s IORING_ENTER_EXT_ARG: its argument is a struct
// io_uring_getevents_arg, which may carry a timeout.
constexpr std::uint64_t io_uring_enter_ext_arg = 1U << 3;

// The timeout in the two 8-byte words at @p address (a timespec when
// @p nanos, else a timeval), in ms; nullopt when unreadable.
std::optional<double> time_at(std::uint64_t address, bool nanos, const Readers& from) {
    if (!from.memory) return std::nullopt;
    const auto bytes = from.memory(address, 16);
    if (!bytes || bytes->size() < 16) return std::nullopt;
    std::int64_t seconds = 0;
    std::int64_t fraction = 0;
    std::memcpy(&seconds, bytes->data(), 8);
    std::memcpy(&fraction, bytes->data() + 8, 8);
    return static_cast<double>(seconds) * 1000 +
           static_cast<double>(fraction) / (nanos ? 1e6 : 1e3);
}

// Sets TaskWait::timeout and timeout_ms of @p w, blocked in @p c with
// arguments @p a.
void set_timeout(TaskWait& w, const std::string& c, const std::vector<std::uint64_t>& a,
                 const Readers& from) {
    const auto as_int = [&](std::size_t i) {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(a[i]));
    };
    if (is_sleep_call(c)) {
        w.timeout = "a sleep";
        return;
    }
    if (c == "futex" && a.size() >= 4 && ((a[1] & 0x7f) == 0 || (a[1] & 0x7f) == 9) && a[3] != 0) {
        // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's (a
        // condition variable's wait_for, which glibc makes a clock wait) is
        // a deadline on CLOCK_MONOTONIC, or CLOCK_REALTIME with
        // FUTEX_CLOCK_REALTIME: what is left of it is at most its period.
        const std::optional<double> t = time_at(a[3], true, from);
        if (t && (a[1] & 0x7f) == 0) {
            w.timeout_ms = t;
            w.timeout = fmt::format("a timeout of {:.0f} ms", *t);
        } else if (t) {
            timespec now{};
            ::clock_gettime((a[1] & futex_clock_realtime) != 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC,
                            &now);
            const double left = std::max(0.0, *t - (static_cast<double>(now.tv_sec) * 1000 +
                                                    static_cast<double>(now.tv_nsec) / 1e6));
            w.timeout_ms = left;
            w.timeout = fmt::format("a deadline {:.0f} ms away", left);
        } else {
            w.timeout = "a timeout";
        }
        return;
    }
    std::optional<double> ms;
    bool timed = false;
    if (c == "poll" && a.size() >= 3 && as_int(2) >= 0) {
        timed = true;
        ms = as_int(2);
    } else if ((c == "epoll_wait" || c == "epoll_pwait") && a.size() >= 4 && as_int(3) >= 0) {
        timed = true;
        ms = as_int(3);
    } else if ((c == "ppoll" && a.size() >= 3 && a[2] != 0) ||
               (c == "epoll_pwait2" && a.size() >= 4 && a[3] != 0)) {
        timed = true;
        ms = time_at(a[c == "ppoll" ? 2 : 3], true, from);
    } else if ((c == "select" || c == "pselect6") && a.size() >= 5 && a[4] != 0) {
        timed = true;
        ms = time_at(a[4], c == "pselect6", from);
    } else if (c == "io_uring_enter" && a.size() >= 5 && (a[3] & io_uring_enter_ext_arg) != 0 &&
               a[4] != 0 && from.memory) {
        // struct io_uring_getevents_arg: its timespec's address at byte 16.
        if (const auto arg = from.memory(a[4], 24); arg && arg->size() >= 24) {
            std::uint64_t ts = 0;
            std::memcpy(&ts, arg->data() + 16, sizeof ts);
            if (ts != 0) {
                timed = true;
                ms = time_at(ts, true, from);
            }
        }
    }
    if (!timed) return;
    w.timeout_ms = ms;
    w.timeout = ms ? fmt::format("a timeout of {:.0f} ms", *ms) : std::string("a timeout");
}

}  // namespace

TaskWait describe(const procfs::SyscallSample& s, const Readers& from) {
    TaskWait w;
    w.readable = s.readable;
    if (!s.readable) return w;
    if (s.running) {
        w.call = "running";
        return w;
    }
    if (!s.number) return w;
    w.call = syscall_name(*s.number);
    const auto& a = s.args;
    const std::string& c = w.call;
    if ((c == "accept" || c == "accept4" || c == "read" || c == "recvfrom" || c == "recvmsg") &&
        !a.empty()) {
        w.fds = {static_cast<int>(a[0])};
    } else if ((c == "write" || c == "writev" || c == "pwritev" || c == "pwritev2" ||
                c == "sendto" || c == "sendmsg" || c == "sendmmsg" || c == "sendfile") &&
               !a.empty()) {
        w.write_fds = {static_cast<int>(a[0])};
    } else if (c == "splice" && a.size() >= 3) {
        w.write_fds = {static_cast<int>(a[2])};
    } else if ((c == "select" || c == "pselect6") && a.size() >= 2 && a[0] <= max_fds &&
               from.memory) {
        const std::size_t words = (a[0] + 63) / 64;
        if (a[1] != 0) {
            if (const auto set = from.memory(a[1], words * 8)) w.fds = fds_in_fd_set(*set, a[0]);
        }
        if (a.size() >= 3 && a[2] != 0) {
            if (const auto set = from.memory(a[2], words * 8)) {
                w.write_fds = fds_in_fd_set(*set, a[0]);
            }
        }
    } else if ((c == "poll" || c == "ppoll") && a.size() >= 2 && a[1] <= max_fds && from.memory) {
        if (const auto array = from.memory(a[0], a[1] * sizeof(pollfd))) {
            w.fds = fds_in_pollfds(*array);
            w.write_fds = fds_in_pollfds(*array, POLLOUT);
        }
    } else if (c.starts_with("epoll_") && c != "epoll_ctl" && !a.empty()) {
        w.epoll_fd = static_cast<int>(a[0]);
        const auto entries =
            from.epoll ? from.epoll(w.epoll_fd) : std::optional<std::vector<procfs::EpollEntry>>();
        if (entries) {
            for (const auto& e : *entries) {
                w.fds.push_back(e.fd);
                w.epoll_events[e.fd] = e.events;
                if ((e.events & EPOLLOUT) != 0) w.write_fds.push_back(e.fd);
            }
            w.fds = sorted(std::move(w.fds));
            w.write_fds = sorted(std::move(w.write_fds));
        }
    } else if (c == "fcntl" && a.size() >= 2) {
        w.record_lock = a[1] == F_SETLKW || a[1] == F_OFD_SETLKW;
    }
    set_timeout(w, c, a, from);
    return w;
}

TaskWait wait_of(pid_t pid, pid_t tid) {
    const Readers from{
        .memory = [pid](std::uint64_t address,
                        std::size_t size) { return procfs::read_memory(pid, address, size); },
        .epoll = [pid](int epfd) { return procfs::epoll_interest(pid, epfd); },
    };
    TaskWait w = describe(procfs::current_syscall(tid), from);
    w.pid = pid;
    w.tid = tid;
    return w;
}

std::vector<int> listener_fds(pid_t pid, std::uint16_t port) {
    const auto inodes = procfs::listening_inodes(port);
    std::vector<int> out;
    for (const auto& fd : procfs::open_fds(pid)) {
        const auto inode = procfs::socket_inode(fd.target);
        if (inode && std::binary_search(inodes.begin(), inodes.end(), *inode)) {
            out.push_back(fd.fd);
        }
    }
    return out;
}

std::optional<int> connection_fd(pid_t pid, std::uint16_t server_port, std::uint16_t client_port) {
    const auto inode = procfs::connection_inode(server_port, client_port);
    if (!inode) return std::nullopt;
    const auto holders = procfs::socket_holders({pid}, *inode);
    if (holders.empty()) return std::nullopt;
    return holders.front().fd;
}

bool waits_on_any(const TaskWait& w, const std::vector<int>& fds) {
    return std::any_of(fds.begin(), fds.end(), [&](int fd) { return w.waits_on(fd); });
}

std::string list_text(const std::vector<TaskWait>& waits, bool by_process) {
    std::string text;
    for (const auto& w : waits) {
        text += fmt::format("{}{} in {}", text.empty() ? "" : "; ", by_process ? w.pid : w.tid,
                            w.text());
    }
    return text.empty() ? "none" : text;
}

}  // namespace csd::grade::waits
