#pragma once
/// @file procfs.hpp
/// @brief What /proc says about the server: processes, threads, descriptors,
/// sockets, CPU time and the system call a thread is blocked in.
///
/// The parse_* functions are pure (they take the text of a /proc file);
/// the others read /proc. A process may vanish at any moment: readers then
/// return an empty result, never throw. Usable from any thread.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::grade::procfs {

/// The fields of /proc/PID/stat the grader uses.
struct ProcStat {
    pid_t pid = 0;            ///< Process id.
    std::string comm;         ///< Command name (may contain spaces and parentheses).
    char state = '?';         ///< R, S, D, Z, T...
    pid_t ppid = 0;           ///< Parent process id.
    pid_t pgrp = 0;           ///< Process group id.
    pid_t session = 0;        ///< Session id.
    std::uint64_t utime = 0;  ///< User CPU time, clock ticks.
    std::uint64_t stime = 0;  ///< System CPU time, clock ticks.
    long num_threads = 0;     ///< Threads in the process.
};

/// Parses the text of /proc/PID/stat; nullopt when it does not look like one.
[[nodiscard]] std::optional<ProcStat> parse_stat(std::string_view text);

/// One socket line of /proc/net/tcp or /proc/net/tcp6.
struct TcpSocket {
    std::uint16_t local_port = 0;   ///< Local port (host order).
    std::uint16_t remote_port = 0;  ///< Remote port (host order).
    int state = 0;                  ///< Kernel TCP state: 0x0A listen, 0x01 established...
    std::uint64_t inode = 0;        ///< Socket inode (0 when no process owns it yet).
    /// Local address as text: "127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1".
    std::string local_address;
};

/// TCP state number of a listening socket in /proc/net/tcp.
inline constexpr int tcp_listen = 0x0A;
/// TCP state number of an established connection in /proc/net/tcp.
inline constexpr int tcp_established = 0x01;

/// Parses the text of /proc/net/tcp or /proc/net/tcp6 (header line skipped).
[[nodiscard]] std::vector<TcpSocket> parse_net_tcp(std::string_view text);

/// The inode in an fd link target `socket:[INODE]`, nullopt for anything else.
[[nodiscard]] std::optional<std::uint64_t> socket_inode(std::string_view link_target);

/// What /proc/PID/syscall said.
struct SyscallSample {
    bool readable = false;            ///< False when the file could not be read.
    bool running = false;             ///< The thread was running (not in a system call).
    std::optional<long> number;       ///< The system call it is blocked in, when known.
    std::vector<std::uint64_t> args;  ///< Its arguments, as far as the file gives them.
    std::string raw;                  ///< First line of the file (or the error), for messages.
};

/// Parses the text of /proc/PID/syscall.
[[nodiscard]] SyscallSample parse_syscall(std::string_view text);

/// The descriptors in the interest list of an epoll instance: the `tfd:`
/// lines of the text of /proc/PID/fdinfo/EPFD.
[[nodiscard]] std::vector<int> parse_epoll_targets(std::string_view text);

/// One entry of an epoll instance's interest list.
struct EpollEntry {
    int fd = -1;               ///< The watched descriptor (`tfd:`).
    std::uint32_t events = 0;  ///< Its event mask (`events:`, with EPOLLET, EPOLLEXCLUSIVE...).
};

/// The interest list of an epoll instance, with each entry's event mask:
/// the `tfd:` lines of the text of /proc/PID/fdinfo/EPFD.
[[nodiscard]] std::vector<EpollEntry> parse_epoll_interest(std::string_view text);

/// The value of `voluntary_ctxt_switches:` in the text of /proc/PID/status
/// (or of one of its tasks), nullopt when absent.
[[nodiscard]] std::optional<std::uint64_t> parse_voluntary_switches(std::string_view text);

/// The value of `TracerPid:` in the text of /proc/PID/status (0: not
/// traced), nullopt when absent.
[[nodiscard]] std::optional<pid_t> parse_tracer_pid(std::string_view text);

/// The signal mask of line @p key (`SigBlk:`, `SigCgt:`, `SigIgn:`) in the
/// text of /proc/PID/status: bit N-1 stands for signal N. nullopt when
/// absent.
[[nodiscard]] std::optional<std::uint64_t> parse_signal_mask(std::string_view text,
                                                             std::string_view key);

/// The signal mask of line @p key (`SigBlk:`, `SigCgt:`...) of @p pid's
/// main thread (/proc/PID/status); nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> signal_mask(pid_t pid, std::string_view key);

/// The same for thread @p tid of process @p pid (/proc/PID/task/TID/status:
/// SigBlk is per thread).
[[nodiscard]] std::optional<std::uint64_t> task_signal_mask(pid_t pid, pid_t tid,
                                                            std::string_view key);

/// The innermost pid in the text of /proc/PID/status (the last number of
/// its `NSpid:` line): the pid the process sees as its own (getpid()) when
/// it runs in a PID namespace; nullopt when the line is absent.
[[nodiscard]] std::optional<pid_t> parse_own_pid(std::string_view text);

/// The pid @p pid sees as its own (getpid()): @p pid outside a PID
/// namespace; nullopt when gone.
[[nodiscard]] std::optional<pid_t> own_pid(pid_t pid);

/// The number of pids in the text of /proc/PID/task/TID/children
/// ("1201 1202 " lists two children).
[[nodiscard]] std::size_t parse_child_count(std::string_view text);

/// Pids of the processes below @p root in @p all (children, grandchildren...).
[[nodiscard]] std::vector<ProcStat> descendants_in(pid_t root, const std::vector<ProcStat>& all);

/// Reads /proc/PID/stat.
[[nodiscard]] std::optional<ProcStat> read_stat(pid_t pid);

/// Every process in /proc right now.
[[nodiscard]] std::vector<ProcStat> snapshot();

/// Every process below @p root right now (a fresh snapshot).
[[nodiscard]] std::vector<ProcStat> descendants(pid_t root);

/// @p root followed by every process below it right now.
[[nodiscard]] std::vector<pid_t> process_tree(pid_t root);

/// Children of the main thread of @p pid right now (the entries of
/// /proc/PID/task/PID/children; a child forked by another thread of @p pid
/// is not there). nullopt when it cannot be read (process gone, or a kernel
/// without CONFIG_PROC_CHILDREN). Cheap: one small file, no scan of /proc.
[[nodiscard]] std::optional<std::size_t> main_thread_child_count(pid_t pid);

/// The name of thread @p tid of @p pid (/proc/PID/task/TID/comm, without
/// its newline: pthread_setname_np's name, or the command's); empty when
/// gone.
[[nodiscard]] std::string thread_name(pid_t pid, pid_t tid);

/// Thread ids of @p pid (entries of /proc/PID/task), sorted; empty when gone.
[[nodiscard]] std::vector<pid_t> thread_ids(pid_t pid);

/// Number of threads of @p pid (entries of /proc/PID/task), 0 when gone.
[[nodiscard]] int thread_count(pid_t pid);

/// One open descriptor and what it points to (readlink of /proc/PID/fd/N).
struct FdInfo {
    int fd = -1;         ///< Descriptor number.
    std::string target;  ///< `socket:[123]`, `anon_inode:[eventpoll]`, `/dev/null`, `pipe:[7]`...
};

/// The open descriptors of @p pid, sorted by number; empty when gone.
[[nodiscard]] std::vector<FdInfo> open_fds(pid_t pid);

/// A process holding a socket: its pid and the descriptor number.
struct Holder {
    pid_t pid = 0;  ///< The process.
    int fd = -1;    ///< Its descriptor for the socket.
};

/// The processes among @p pids holding `socket:[@p inode]`, with their fds.
[[nodiscard]] std::vector<Holder> socket_holders(const std::vector<pid_t>& pids,
                                                 std::uint64_t inode);

/// Every TCP socket of this network namespace (IPv4 and IPv6).
[[nodiscard]] std::vector<TcpSocket> tcp_sockets();

/// Inode of the socket listening on @p port, nullopt when none.
[[nodiscard]] std::optional<std::uint64_t> listening_inode(std::uint16_t port);

/// Inodes of every socket listening on @p port (several with SO_REUSEPORT),
/// sorted; empty when none.
[[nodiscard]] std::vector<std::uint64_t> listening_inodes(std::uint16_t port);

/// Inode of the server side of the connection between @p server_port and
/// the client's @p client_port, nullopt when not (yet) accepted.
[[nodiscard]] std::optional<std::uint64_t> connection_inode(std::uint16_t server_port,
                                                            std::uint16_t client_port);

/// utime + stime of @p pid in clock ticks, nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> cpu_ticks(pid_t pid);

/// utime + stime of every process of @p root's tree (process_tree()), by
/// pid: compare two of them pid by pid, as processes come and go.
[[nodiscard]] std::map<pid_t, std::uint64_t> tree_cpu_ticks(pid_t root);

/// The CPU time, in clock ticks, that the processes present in both
/// @p before and @p after used between them.
[[nodiscard]] std::uint64_t cpu_ticks_between(const std::map<pid_t, std::uint64_t>& before,
                                              const std::map<pid_t, std::uint64_t>& after);

/// Clock ticks per second (sysconf(_SC_CLK_TCK)).
[[nodiscard]] long ticks_per_second();

/// The descriptors of @p pid that are epoll instances
/// (`anon_inode:[eventpoll]`), sorted; empty when gone.
[[nodiscard]] std::vector<int> epoll_fds(pid_t pid);

/// The interest list of the epoll descriptor @p epfd of @p pid (from
/// /proc/PID/fdinfo/EPFD); nullopt when it cannot be read.
[[nodiscard]] std::optional<std::vector<int>> epoll_targets(pid_t pid, int epfd);

/// The interest list of the epoll descriptor @p epfd of @p pid with each
/// entry's event mask; nullopt when it cannot be read.
[[nodiscard]] std::optional<std::vector<EpollEntry>> epoll_interest(pid_t pid, int epfd);

/// The file status flags of a descriptor (the octal `flags:` line of the
/// text of /proc/PID/fdinfo/FD: O_NONBLOCK, O_CLOEXEC, the access mode);
/// nullopt when the text has none.
[[nodiscard]] std::optional<unsigned> parse_fdinfo_flags(std::string_view text);

/// The file status flags of descriptor @p fd of @p pid
/// (parse_fdinfo_flags()); nullopt when it cannot be read.
[[nodiscard]] std::optional<unsigned> fd_flags(pid_t pid, int fd);

/// @p size bytes of the memory of @p pid at @p address (/proc/PID/mem: the
/// same permission as /proc/PID/syscall); nullopt when they cannot be read
/// (process gone, address not mapped, not permitted).
[[nodiscard]] std::optional<std::string> read_memory(pid_t pid, std::uint64_t address,
                                                     std::size_t size);

/// Voluntary context switches of thread @p tid of @p pid: how often it
/// went to sleep (blocked) so far. nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> task_voluntary_switches(pid_t pid, pid_t tid);

/// The kernel's flags of thread @p tid of @p pid (the 9th field of
/// /proc/PID/task/TID/stat: PF_IO_WORKER is 0x10), nullopt when gone.
[[nodiscard]] std::optional<unsigned long> task_flags(pid_t pid, pid_t tid);

/// True when thread @p tid of @p pid is an io_uring kernel worker (the
/// kernel's PF_IO_WORKER flag, not its name): not a thread of the server's.
[[nodiscard]] bool is_io_worker(pid_t pid, pid_t tid);

/// Whether descriptor @p fd_a of process @p a and descriptor @p fd_b of
/// process @p b are the same open file description (kcmp(2), KCMP_FILE:
/// one inherited across fork, or passed): nullopt when the kernel cannot
/// tell (no kcmp, not allowed, a descriptor gone).
[[nodiscard]] std::optional<bool> same_open_file(pid_t a, int fd_a, pid_t b, int fd_b);

/// How many mappings of @p pid are inaccessible (`---p` in
/// /proc/PID/maps): among them the guard page below each thread stack,
/// which stays mapped until the thread is joined (or, detached, ends).
/// nullopt when the file cannot be read.
[[nodiscard]] std::optional<int> inaccessible_mappings(pid_t pid);

/// The number of `---p` lines in the text @p maps of /proc/PID/maps.
[[nodiscard]] int count_inaccessible_mappings(std::string_view maps);

/// True when @p pid runs under ThreadSanitizer (its library in
/// /proc/PID/maps), whose runtime has a thread of its own.
[[nodiscard]] bool runs_tsan(pid_t pid);

/// Voluntary context switches of every thread of @p pid, summed: how often
/// it went to sleep (blocked) so far. nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> voluntary_switches(pid_t pid);

/// Reads /proc/PID/syscall (same user; the server is our descendant).
[[nodiscard]] SyscallSample current_syscall(pid_t pid);

/// The resident set size in bytes from the text of /proc/PID/status (its
/// `VmRSS:` line, in kB); nullopt when there is none (a zombie has none).
[[nodiscard]] std::optional<std::uint64_t> parse_vm_rss(std::string_view status_text);

/// The pid of the process tracing @p pid (0: none), nullopt when gone.
[[nodiscard]] std::optional<pid_t> tracer_pid(pid_t pid);

/// The pid of the process tracing thread @p tid of @p pid (0: none),
/// nullopt when gone.
[[nodiscard]] std::optional<pid_t> task_tracer_pid(pid_t pid, pid_t tid);

/// Resident set size of @p pid in bytes, nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> rss_bytes(pid_t pid);

/// Resident set size of @p root and every process below it, in bytes
/// (0 when all are gone). Shared pages (fork) count once per process.
[[nodiscard]] std::uint64_t tree_rss_bytes(pid_t root);

}  // namespace csd::grade::procfs
