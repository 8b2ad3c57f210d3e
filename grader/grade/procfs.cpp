#include "procfs.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <sstream>
#include <string>

#include "csd/fd.hpp"
#include "tcp_diag.hpp"
#include "text_lines.hpp"

namespace csd::grade::procfs {
namespace {

// Splits @p text at runs of spaces/tabs.
std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
        if (i > start) out.push_back(text.substr(start, i - start));
        if (i < text.size() && text[i] == '\n') break;
    }
    return out;
}

template <typename T>
bool to_number(std::string_view s, T& out, int base = 10) {
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, out, base);
    return ec == std::errc{} && ptr == end;
}

// The whole content of a (small) /proc file; nullopt when it cannot be read.
std::optional<std::string> read_text(const std::string& path) {
    csd::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string text;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

// The numeric entries of directory @p path.
std::vector<long> numeric_entries(const std::string& path) {
    std::vector<long> out;
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return out;
    while (const dirent* entry = ::readdir(dir)) {
        long n = 0;
        if (to_number(std::string_view(entry->d_name), n)) out.push_back(n);
    }
    ::closedir(dir);
    return out;
}

std::string pid_path(pid_t pid, const char* leaf) {
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}

// The rest of the line of /proc/PID/status text @p text that starts with
// @p key ("VmRSS:"), nullopt when no line does.
std::optional<std::string_view> status_value(std::string_view text, std::string_view key) {
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        at = end + 1;
        if (line.starts_with(key)) return line.substr(key.size());
    }
    return std::nullopt;
}

// The first word of the status line @p key as a number, nullopt otherwise.
std::optional<std::uint64_t> status_number(std::string_view text, std::string_view key) {
    const auto value = status_value(text, key);
    if (!value) return std::nullopt;
    const auto w = words(*value);
    std::uint64_t n = 0;
    if (w.empty() || !to_number(w[0], n)) return std::nullopt;
    return n;
}

}  // namespace

std::optional<ProcStat> parse_stat(std::string_view text) {
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
        return std::nullopt;
    }
    ProcStat st;
    const auto head = words(text.substr(0, open));
    if (head.empty() || !to_number(head.front(), st.pid)) return std::nullopt;
    st.comm = std::string(text.substr(open + 1, close - open - 1));
    // Fields after the command name, numbered as in proc(5) from 3 (state).
    const auto rest = words(text.substr(close + 1));
    if (rest.size() < 18 || rest[0].size() != 1) return std::nullopt;
    st.state = rest[0][0];
    const bool ok = to_number(rest[1], st.ppid) && to_number(rest[2], st.pgrp) &&
                    to_number(rest[3], st.session) && to_number(rest[11], st.utime) &&
                    to_number(rest[12], st.stime) && to_number(rest[17], st.num_threads);
    if (!ok) return std::nullopt;
    return st;
}

namespace {

// The address of /proc/net/tcp{,6}'s hex field @p hex: the kernel prints
// each 32-bit word of the address as the machine holds it (%08X), so a
// word's bytes in memory are the address's bytes in network order.
std::string address_text(std::string_view hex) {
    if (hex.size() != 8 && hex.size() != 32) return std::string(hex);
    std::array<unsigned char, 16> bytes{};
    for (std::size_t word = 0; word * 8 < hex.size(); ++word) {
        std::uint32_t value = 0;
        if (!to_number(hex.substr(word * 8, 8), value, 16)) return std::string(hex);
        std::memcpy(bytes.data() + word * 4, &value, sizeof value);
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    const int family = hex.size() == 8 ? AF_INET : AF_INET6;
    if (::inet_ntop(family, bytes.data(), text.data(), text.size()) == nullptr) {
        return std::string(hex);
    }
    return text.data();
}

}  // namespace

std::vector<TcpSocket> parse_net_tcp(std::string_view text) {
    std::vector<TcpSocket> out;
    bool header = true;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (header) {
            header = false;
            continue;
        }
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const auto w = words(line);
        if (w.size() < 10) continue;
        const auto local_colon = w[1].rfind(':');
        const auto remote_colon = w[2].rfind(':');
        if (local_colon == std::string_view::npos || remote_colon == std::string_view::npos) {
            continue;
        }
        TcpSocket s;
        s.local_address = address_text(w[1].substr(0, local_colon));
        if (to_number(w[1].substr(local_colon + 1), s.local_port, 16) &&
            to_number(w[2].substr(remote_colon + 1), s.remote_port, 16) &&
            to_number(w[3], s.state, 16) && to_number(w[9], s.inode)) {
            out.push_back(s);
        }
    }
    return out;
}

std::optional<std::uint64_t> socket_inode(std::string_view link_target) {
    constexpr std::string_view prefix = "socket:[";
    if (link_target.size() <= prefix.size() + 1 || !link_target.starts_with(prefix) ||
        link_target.back() != ']') {
        return std::nullopt;
    }
    std::uint64_t inode = 0;
    if (!to_number(link_target.substr(prefix.size(), link_target.size() - prefix.size() - 1),
                   inode)) {
        return std::nullopt;
    }
    return inode;
}

SyscallSample parse_syscall(std::string_view text) {
    SyscallSample s;
    s.readable = true;
    s.raw = std::string(text.substr(0, text.find('\n')));
    const auto w = words(text);
    if (w.empty()) return s;
    if (w[0] == "running") {
        s.running = true;
        return s;
    }
    long nr = 0;
    if (to_number(w[0], nr) && nr >= 0) s.number = nr;
    if (!s.number) return s;
    // The six arguments follow, in hex (then the stack and instruction pointers).
    for (std::size_t i = 1; i < w.size() && i <= 6; ++i) {
        std::uint64_t value = 0;
        if (!w[i].starts_with("0x") || !to_number(w[i].substr(2), value, 16)) break;
        s.args.push_back(value);
    }
    return s;
}

std::vector<EpollEntry> parse_epoll_interest(std::string_view text) {
    std::vector<EpollEntry> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        const auto w = words(line);
        EpollEntry e;
        if (w.size() < 2 || w[0] != "tfd:" || !to_number(w[1], e.fd)) continue;
        if (w.size() >= 4 && w[2] == "events:") (void)to_number(w[3], e.events, 16);
        out.push_back(e);
    }
    return out;
}

std::vector<int> parse_epoll_targets(std::string_view text) {
    std::vector<int> out;
    for (const auto& e : parse_epoll_interest(text)) out.push_back(e.fd);
    return out;
}

std::optional<std::uint64_t> parse_voluntary_switches(std::string_view text) {
    return status_number(text, "voluntary_ctxt_switches:");
}

std::optional<pid_t> parse_tracer_pid(std::string_view text) {
    const auto n = status_number(text, "TracerPid:");
    if (!n) return std::nullopt;
    return static_cast<pid_t>(*n);
}

std::optional<std::uint64_t> parse_signal_mask(std::string_view text, std::string_view key) {
    const auto value = status_value(text, key);
    if (!value) return std::nullopt;
    const auto w = words(*value);
    std::uint64_t mask = 0;
    if (w.empty() || !to_number(w[0], mask, 16)) return std::nullopt;
    return mask;
}

std::optional<std::uint64_t> signal_mask(pid_t pid, std::string_view key) {
    const auto text = read_text(pid_path(pid, "status"));
    if (!text) return std::nullopt;
    return parse_signal_mask(*text, key);
}

std::optional<std::uint64_t> task_signal_mask(pid_t pid, pid_t tid, std::string_view key) {
    const auto text = read_text(pid_path(pid, "task") + "/" + std::to_string(tid) + "/status");
    if (!text) return std::nullopt;
    return parse_signal_mask(*text, key);
}

std::optional<pid_t> parse_own_pid(std::string_view text) {
    const auto value = status_value(text, "NSpid:");
    if (!value) return std::nullopt;
    const auto w = words(*value);
    pid_t pid = 0;
    if (w.empty() || !to_number(w.back(), pid)) return std::nullopt;
    return pid;
}

std::optional<pid_t> own_pid(pid_t pid) {
    const auto text = read_text(pid_path(pid, "status"));
    if (!text) return std::nullopt;
    if (const auto own = parse_own_pid(*text)) return own;
    return pid;  // a kernel without NSpid (before 4.1): no namespace to see through
}

std::size_t parse_child_count(std::string_view text) {
    std::size_t count = 0;
    bool in_word = false;
    for (const char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        if (!space && !in_word) ++count;
        in_word = !space;
    }
    return count;
}

std::vector<ProcStat> descendants_in(pid_t root, const std::vector<ProcStat>& all) {
    std::multimap<pid_t, const ProcStat*> children;
    for (const auto& p : all) children.emplace(p.ppid, &p);
    std::vector<ProcStat> out;
    std::vector<pid_t> todo{root};
    while (!todo.empty() && out.size() < all.size()) {
        const pid_t parent = todo.back();
        todo.pop_back();
        const auto [first, last] = children.equal_range(parent);
        for (auto it = first; it != last; ++it) {
            if (it->second->pid == root) continue;  // defensive: no cycles
            out.push_back(*it->second);
            todo.push_back(it->second->pid);
        }
    }
    return out;
}

std::optional<ProcStat> read_stat(pid_t pid) {
    const auto text = read_text(pid_path(pid, "stat"));
    if (!text) return std::nullopt;
    return parse_stat(*text);
}

std::vector<ProcStat> snapshot() {
    std::vector<ProcStat> out;
    for (const long pid : numeric_entries("/proc")) {
        if (auto st = read_stat(static_cast<pid_t>(pid))) out.push_back(std::move(*st));
    }
    return out;
}

std::vector<ProcStat> descendants(pid_t root) {
    return descendants_in(root, snapshot());
}

std::vector<pid_t> process_tree(pid_t root) {
    std::vector<pid_t> out{root};
    for (const auto& p : descendants(root)) out.push_back(p.pid);
    return out;
}

std::vector<pid_t> thread_ids(pid_t pid) {
    std::vector<pid_t> out;
    for (const long tid : numeric_entries(pid_path(pid, "task"))) {
        out.push_back(static_cast<pid_t>(tid));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Holder> socket_holders(const std::vector<pid_t>& pids, std::uint64_t inode) {
    const std::string target = "socket:[" + std::to_string(inode) + "]";
    std::vector<Holder> out;
    for (const pid_t pid : pids) {
        for (const auto& fd : open_fds(pid)) {
            if (fd.target == target) out.push_back({pid, fd.fd});
        }
    }
    return out;
}

std::optional<std::size_t> main_thread_child_count(pid_t pid) {
    const auto text = read_text(pid_path(pid, "task/") + std::to_string(pid) + "/children");
    if (!text) return std::nullopt;
    return parse_child_count(*text);
}

std::string thread_name(pid_t pid, pid_t tid) {
    std::string name =
        read_text(pid_path(pid, "task/") + std::to_string(tid) + "/comm").value_or("");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    return name;
}

int thread_count(pid_t pid) {
    return static_cast<int>(numeric_entries(pid_path(pid, "task")).size());
}

std::vector<FdInfo> open_fds(pid_t pid) {
    std::vector<FdInfo> out;
    const std::string dir = pid_path(pid, "fd");
    for (const long fd : numeric_entries(dir)) {
        const std::string link = dir + "/" + std::to_string(fd);
        char buf[512];
        const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
        if (n < 0) continue;  // closed meanwhile
        out.push_back({static_cast<int>(fd), std::string(buf, static_cast<std::size_t>(n))});
    }
    std::sort(out.begin(), out.end(), [](const FdInfo& a, const FdInfo& b) { return a.fd < b.fd; });
    return out;
}

std::vector<TcpSocket> tcp_sockets() {
    std::vector<TcpSocket> out;
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        if (const auto text = read_text(path)) {
            auto part = parse_net_tcp(*text);
            out.insert(out.end(), part.begin(), part.end());
        }
    }
    return out;
}

std::optional<std::uint64_t> listening_inode(std::uint16_t port) {
    for (const auto& s : tcp_sockets()) {
        if (s.local_port == port && s.state == tcp_listen && s.inode != 0) return s.inode;
    }
    return std::nullopt;
}

std::vector<std::uint64_t> listening_inodes(std::uint16_t port) {
    std::vector<std::uint64_t> out;
    for (const auto& s : tcp_sockets()) {
        if (s.local_port == port && s.state == tcp_listen && s.inode != 0) out.push_back(s.inode);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<std::uint64_t> connection_inode(std::uint16_t server_port,
                                              std::uint16_t client_port) {
    // The kernel's exact lookup first: /proc/net/tcp lists every socket.
    if (const auto found = tcp_diag::loopback_connection(server_port, client_port);
        found.answered) {
        return found.inode != 0 ? std::optional<std::uint64_t>(found.inode) : std::nullopt;
    }
    for (const auto& s : tcp_sockets()) {
        if (s.local_port == server_port && s.remote_port == client_port && s.state != tcp_listen &&
            s.inode != 0) {
            return s.inode;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> cpu_ticks(pid_t pid) {
    const auto st = read_stat(pid);
    if (!st) return std::nullopt;
    return st->utime + st->stime;
}

std::map<pid_t, std::uint64_t> tree_cpu_ticks(pid_t root) {
    std::map<pid_t, std::uint64_t> out;
    for (const pid_t pid : process_tree(root)) {
        if (const auto ticks = cpu_ticks(pid)) out[pid] = *ticks;
    }
    return out;
}

std::uint64_t cpu_ticks_between(const std::map<pid_t, std::uint64_t>& before,
                                const std::map<pid_t, std::uint64_t>& after) {
    std::uint64_t used = 0;
    for (const auto& [pid, ticks] : after) {
        const auto was = before.find(pid);
        if (was != before.end() && ticks >= was->second) used += ticks - was->second;
    }
    return used;
}

long ticks_per_second() {
    static const long ticks = [] {
        const long t = ::sysconf(_SC_CLK_TCK);
        return t > 0 ? t : 100;
    }();
    return ticks;
}

std::vector<int> epoll_fds(pid_t pid) {
    std::vector<int> out;
    for (const auto& fd : open_fds(pid)) {
        if (fd.target == "anon_inode:[eventpoll]") out.push_back(fd.fd);
    }
    return out;
}

std::optional<std::vector<int>> epoll_targets(pid_t pid, int epfd) {
    const auto text = read_text(pid_path(pid, "fdinfo") + "/" + std::to_string(epfd));
    if (!text) return std::nullopt;
    return parse_epoll_targets(*text);
}

std::optional<std::vector<EpollEntry>> epoll_interest(pid_t pid, int epfd) {
    const auto text = read_text(pid_path(pid, "fdinfo") + "/" + std::to_string(epfd));
    if (!text) return std::nullopt;
    return parse_epoll_interest(*text);
}

std::optional<unsigned> parse_fdinfo_flags(std::string_view text) {
    while (!text.empty()) {
        const std::size_t nl = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(nl + 1, text.size()));
        if (!line.starts_with("flags:")) continue;
        line.remove_prefix(6);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        unsigned flags = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), flags, 8);
        if (ec != std::errc{} || end == line.data()) return std::nullopt;
        return flags;
    }
    return std::nullopt;
}

std::optional<unsigned> fd_flags(pid_t pid, int fd) {
    const auto text = read_text(pid_path(pid, "fdinfo") + "/" + std::to_string(fd));
    if (!text) return std::nullopt;
    return parse_fdinfo_flags(*text);
}

std::optional<std::string> read_memory(pid_t pid, std::uint64_t address, std::size_t size) {
    csd::Fd fd(::open(pid_path(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string bytes(size, '\0');
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n =
            ::pread(fd.get(), bytes.data() + done, size - done, static_cast<off_t>(address + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        done += static_cast<std::size_t>(n);
    }
    return bytes;
}

std::optional<std::uint64_t> task_voluntary_switches(pid_t pid, pid_t tid) {
    const auto text = read_text(pid_path(pid, "task") + "/" + std::to_string(tid) + "/status");
    if (!text) return std::nullopt;
    return parse_voluntary_switches(*text);
}

std::optional<unsigned long> task_flags(pid_t pid, pid_t tid) {
    const auto text = read_text(pid_path(pid, "task") + "/" + std::to_string(tid) + "/stat");
    if (!text) return std::nullopt;
    const auto close = text->rfind(')');  // comm may hold spaces and parentheses
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text->substr(close + 1));
    std::string field;
    for (int i = 0; i < 7; ++i) {  // state ppid pgrp session tty_nr tpgid flags
        if (!(fields >> field)) return std::nullopt;
    }
    try {
        return std::stoul(field);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool is_io_worker(pid_t pid, pid_t tid) {
    constexpr unsigned long pf_io_worker = 0x10;  // linux/sched.h
    const auto flags = task_flags(pid, tid);
    return flags && (*flags & pf_io_worker) != 0;
}

std::optional<bool> same_open_file(pid_t a, int fd_a, pid_t b, int fd_b) {
    constexpr int kcmp_file = 0;  // KCMP_FILE (linux/kcmp.h)
    const long r = ::syscall(SYS_kcmp, a, b, kcmp_file, static_cast<unsigned long>(fd_a),
                             static_cast<unsigned long>(fd_b));
    if (r < 0) return std::nullopt;
    return r == 0;
}

int count_inaccessible_mappings(std::string_view maps) {
    int n = 0;
    for (const std::string_view line : lines_of(maps)) {
        // "7f12a000-7f12b000 ---p 00000000 00:00 0": the permissions field.
        const std::size_t space = line.find(' ');
        if (space != std::string_view::npos && line.substr(space + 1, 4) == "---p") ++n;
    }
    return n;
}

std::optional<int> inaccessible_mappings(pid_t pid) {
    const auto maps = read_text(pid_path(pid, "maps"));
    if (!maps) return std::nullopt;
    return count_inaccessible_mappings(*maps);
}

bool runs_tsan(pid_t pid) {
    const auto maps = read_text(pid_path(pid, "maps"));
    return maps && maps->find("libtsan") != std::string::npos;
}

std::optional<std::uint64_t> voluntary_switches(pid_t pid) {
    const std::string tasks = pid_path(pid, "task");
    std::uint64_t sum = 0;
    bool any = false;
    for (const long tid : numeric_entries(tasks)) {
        const auto text = read_text(tasks + "/" + std::to_string(tid) + "/status");
        if (!text) continue;  // the thread ended meanwhile
        if (const auto n = parse_voluntary_switches(*text)) {
            sum += *n;
            any = true;
        }
    }
    if (!any) return std::nullopt;
    return sum;
}

SyscallSample current_syscall(pid_t pid) {
    const auto text = read_text(pid_path(pid, "syscall"));
    if (!text) {
        SyscallSample s;
        s.raw = "cannot read /proc/" + std::to_string(pid) + "/syscall";
        return s;
    }
    return parse_syscall(*text);
}

std::optional<std::uint64_t> parse_vm_rss(std::string_view status_text) {
    const auto value = status_value(status_text, "VmRSS:");
    if (!value) return std::nullopt;
    const auto w = words(*value);
    std::uint64_t kib = 0;
    if (w.size() != 2 || w[1] != "kB" || !to_number(w[0], kib)) return std::nullopt;
    return kib * 1024;
}

std::optional<pid_t> tracer_pid(pid_t pid) {
    const auto text = read_text(pid_path(pid, "status"));
    if (!text) return std::nullopt;
    return parse_tracer_pid(*text);
}

std::optional<pid_t> task_tracer_pid(pid_t pid, pid_t tid) {
    const auto text = read_text(pid_path(pid, "task") + "/" + std::to_string(tid) + "/status");
    if (!text) return std::nullopt;
    return parse_tracer_pid(*text);
}

std::optional<std::uint64_t> rss_bytes(pid_t pid) {
    const auto text = read_text(pid_path(pid, "status"));
    if (!text) return std::nullopt;
    return parse_vm_rss(*text);
}

std::uint64_t tree_rss_bytes(pid_t root) {
    std::uint64_t total = rss_bytes(root).value_or(0);
    for (const ProcStat& p : descendants(root)) total += rss_bytes(p.pid).value_or(0);
    return total;
}

}  // namespace csd::grade::procfs
