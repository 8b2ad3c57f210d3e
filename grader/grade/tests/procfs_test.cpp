// Parsing of /proc text: stat, net/tcp, syscall, fd link targets.
#include "procfs.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <bit>

#include "syscalls.hpp"

using namespace csd::grade::procfs;

TEST_CASE("parse_stat reads the fields after a command name with spaces and parentheses") {
    const auto st = parse_stat(
        "4242 (my (odd) server) S 4200 4242 4100 34816 4242 4194304 120 0 0 0 17 5 0 0 20 0 3 0 "
        "123456 10000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
    REQUIRE(st);
    CHECK(st->pid == 4242);
    CHECK(st->comm == "my (odd) server");
    CHECK(st->state == 'S');
    CHECK(st->ppid == 4200);
    CHECK(st->pgrp == 4242);
    CHECK(st->session == 4100);
    CHECK(st->utime == 17);
    CHECK(st->stime == 5);
    CHECK(st->num_threads == 3);
}

TEST_CASE("parse_stat refuses text that is not a stat line") {
    CHECK_FALSE(parse_stat(""));
    CHECK_FALSE(parse_stat("12 (x) S 1"));
    CHECK_FALSE(parse_stat("no parentheses at all"));
}

TEST_CASE("parse_stat reads this process") {
    const auto st = read_stat(::getpid());
    REQUIRE(st);
    CHECK(st->pid == ::getpid());
    CHECK(st->ppid == ::getppid());
    CHECK(st->state == 'R');
}

TEST_CASE("parse_net_tcp finds listening and connected sockets") {
    const char* text =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:0FA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000    "
        "    0 31337 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:0FA0 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000    "
        "    0 31338 1 0000000000000000 20 4 30 10 -1\n";
    const auto sockets = parse_net_tcp(text);
    REQUIRE(sockets.size() == 2);
    CHECK(sockets[0].local_port == 4000);
    CHECK(sockets[0].state == tcp_listen);
    CHECK(sockets[0].inode == 31337);
    CHECK(sockets[1].remote_port == 50000);
    CHECK(sockets[1].state == 1);
    CHECK(sockets[1].inode == 31338);
    // The kernel prints each 32-bit word as the machine holds it.
    if constexpr (std::endian::native == std::endian::little) {
        CHECK(sockets[0].local_address == "127.0.0.1");
    }
}

TEST_CASE("parse_net_tcp reads IPv6 lines and skips garbage") {
    const char* text =
        "header\n"
        "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000  1000        0 777 1 0 100 0 0 10 0\n"
        "garbage line\n";
    const auto sockets = parse_net_tcp(text);
    REQUIRE(sockets.size() == 1);
    CHECK(sockets[0].local_port == 8080);
    CHECK(sockets[0].inode == 777);
    if constexpr (std::endian::native == std::endian::little) {
        CHECK(sockets[0].local_address == "::1");
    }
}

TEST_CASE("parse_net_tcp reads the wildcard addresses") {
    const auto sockets = parse_net_tcp(
        "header\n"
        "   0: 00000000:0FA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 5 1\n"
        "   1: 00000000000000000000000000000000:0FA0 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000  0 0 6 1\n");
    REQUIRE(sockets.size() == 2);
    CHECK(sockets[0].local_address == "0.0.0.0");
    CHECK(sockets[1].local_address == "::");
}

TEST_CASE("socket_inode reads socket:[N] only") {
    CHECK(socket_inode("socket:[12345]") == 12345u);
    CHECK_FALSE(socket_inode("anon_inode:[eventpoll]"));
    CHECK_FALSE(socket_inode("socket:[]"));
    CHECK_FALSE(socket_inode("/dev/null"));
}

TEST_CASE("parse_syscall") {
    const auto blocked = parse_syscall("232 0x4 0x7ffd 0x400 0xffffffff 0x0 0x0 0x7ffd 0x7f\n");
    CHECK(blocked.readable);
    CHECK_FALSE(blocked.running);
    CHECK(blocked.number == 232);
    CHECK(parse_syscall("running\n").running);
    CHECK_FALSE(parse_syscall("-1 0x7ffd 0x7f\n").number);
    REQUIRE(blocked.args.size() == 6);
    CHECK(blocked.args[0] == 4);
    CHECK(blocked.args[2] == 0x400);
    CHECK(blocked.args[3] == 0xffffffff);
    CHECK(parse_syscall("running\n").args.empty());
}

TEST_CASE("parse_epoll_targets") {
    const char* text =
        "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n"
        "tfd:        4 events:       19 data:                4  pos:0 ino:8be36 sdev:f\n"
        "tfd:       12 events:       19 data:                c  pos:0 ino:8be37 sdev:f\n";
    CHECK(parse_epoll_targets(text) == std::vector<int>{4, 12});
    CHECK(parse_epoll_targets("pos:\t0\nflags:\t02\n").empty());
}

TEST_CASE("parse_epoll_interest") {
    const char* text =
        "pos:\t0\nflags:\t02000002\n"
        "tfd:        4 events:       19 data:                4  pos:0 ino:8be36 sdev:f\n"
        "tfd:       12 events: 80000019 data:                c  pos:0 ino:8be37 sdev:f\n"
        "tfd:        3 events: 10000001 data:                3  pos:0 ino:8be38 sdev:f\n";
    const auto entries = parse_epoll_interest(text);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].fd == 4);
    CHECK(entries[0].events == 0x19U);
    CHECK(entries[1].events == 0x80000019U);  // EPOLLET
    CHECK(entries[2].events == 0x10000001U);  // EPOLLEXCLUSIVE
}

TEST_CASE("parse_signal_mask") {
    const char* text = "Name:\tx\nSigBlk:\t0000000000000200\nSigCgt:\t0000000180000a00\n";
    CHECK(parse_signal_mask(text, "SigBlk:") == 0x200U);  // SIGUSR1 (10): bit 9
    CHECK(parse_signal_mask(text, "SigCgt:") == 0x180000a00U);
    CHECK_FALSE(parse_signal_mask(text, "SigIgn:"));
}

TEST_CASE("parse_own_pid") {
    CHECK(parse_own_pid("Name:\tx\nNSpid:\t4242\t7\nNSpgid:\t4242\t1\n") == 7);
    CHECK(parse_own_pid("Name:\tx\nNSpid:\t4242\n") == 4242);
    CHECK_FALSE(parse_own_pid("Name:\tx\n"));
}

TEST_CASE("parse_voluntary_switches") {
    const char* text = "Name:\tx\nvoluntary_ctxt_switches:\t17\nnonvoluntary_ctxt_switches:\t3\n";
    CHECK(parse_voluntary_switches(text) == 17U);
    CHECK_FALSE(parse_voluntary_switches("nonvoluntary_ctxt_switches:\t3\n"));
}

TEST_CASE("syscall names follow this architecture") {
#ifdef SYS_epoll_pwait
    CHECK(csd::grade::syscall_name(SYS_epoll_pwait) == "epoll_pwait");
#endif
#ifdef SYS_select
    CHECK(csd::grade::syscall_name(SYS_select) == "select");
#endif
    CHECK(csd::grade::syscall_name(100000) == "syscall 100000");
}

TEST_CASE("descendants_in walks the whole tree below a pid") {
    std::vector<ProcStat> all(6);
    const pid_t links[][2] = {{1, 0}, {10, 1}, {11, 10}, {12, 11}, {13, 10}, {20, 1}};
    for (std::size_t i = 0; i < all.size(); ++i) {
        all[i].pid = links[i][0];
        all[i].ppid = links[i][1];
    }
    const auto below = descendants_in(10, all);
    std::vector<pid_t> pids;
    for (const auto& p : below) pids.push_back(p.pid);
    std::sort(pids.begin(), pids.end());
    CHECK(pids == std::vector<pid_t>{11, 12, 13});
    CHECK(descendants_in(12, all).empty());
}

TEST_CASE("open_fds of this process sees a descriptor") {
    const auto fds = open_fds(::getpid());
    CHECK_FALSE(fds.empty());
    CHECK(thread_count(::getpid()) >= 1);
}

TEST_CASE("parse_child_count") {
    CHECK(parse_child_count("") == 0);
    CHECK(parse_child_count("1201 ") == 1);
    CHECK(parse_child_count("1201 1202 99999 ") == 3);
    CHECK(parse_child_count("7") == 1);
}

TEST_CASE("main_thread_child_count sees a new child") {
    const auto before = main_thread_child_count(::getpid());
    REQUIRE(before.has_value());
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    CHECK(main_thread_child_count(::getpid()) == *before + 1);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    CHECK(main_thread_child_count(::getpid()) == before);
}

TEST_CASE("thread_name reads a thread's comm") {
    CHECK_FALSE(thread_name(::getpid(), ::getpid()).empty());
    CHECK(thread_name(::getpid(), ::getpid()).find('\n') == std::string::npos);
}

TEST_CASE("parse_fdinfo_flags reads the octal flags line") {
    CHECK(parse_fdinfo_flags("pos:\t0\nflags:\t02004000\nmnt_id:\t15\nino:\t1234\n") == 02004000U);
    CHECK(parse_fdinfo_flags("pos:\t0\nmnt_id:\t15\n") == std::nullopt);
    CHECK(parse_fdinfo_flags("flags:\tzz\n") == std::nullopt);
}

TEST_CASE("fd_flags sees O_NONBLOCK on one end of a pipe and not on the other") {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(ends[1], F_SETFL, O_NONBLOCK) == 0);
    const auto read_end = fd_flags(::getpid(), ends[0]);
    const auto write_end = fd_flags(::getpid(), ends[1]);
    REQUIRE(read_end);
    REQUIRE(write_end);
    CHECK((*read_end & O_NONBLOCK) == 0);
    CHECK((*write_end & O_NONBLOCK) != 0);
    CHECK((*write_end & O_ACCMODE) == O_WRONLY);
    ::close(ends[0]);
    ::close(ends[1]);
}

TEST_CASE("parse_tracer_pid") {
    CHECK(parse_tracer_pid("Name:\tx\nTracerPid:\t4242\nUid:\t1000\n") == 4242);
    CHECK(parse_tracer_pid("TracerPid:\t0\n") == 0);
    CHECK_FALSE(parse_tracer_pid("Name:\tx\n"));
}

TEST_CASE("parse_vm_rss reads the VmRSS line in bytes") {
    CHECK(parse_vm_rss("Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    3268 kB\nRssAnon:\t 1 kB\n") ==
          3268U * 1024);
    CHECK_FALSE(parse_vm_rss("Name:\tzombie\nState:\tZ (zombie)\n").has_value());
    CHECK_FALSE(parse_vm_rss("VmRSS:\t12 MB\n").has_value());
    CHECK_FALSE(parse_vm_rss("").has_value());
}

TEST_CASE("rss_bytes of this process is some memory, and its tree counts it") {
    const auto rss = rss_bytes(::getpid());
    REQUIRE(rss.has_value());
    CHECK(*rss > 0);
    CHECK(tree_rss_bytes(::getpid()) >= *rss / 2);
}

TEST_CASE("listening_inodes sees every SO_REUSEPORT listener of a port") {
    // Two listening sockets on one loopback port, as in prefork's -m reuseport.
    auto listen_reuseport = [](std::uint16_t port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        const int one = 1;
        REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd, 8) == 0);
        return fd;
    };
    const int a = listen_reuseport(0);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    REQUIRE(::getsockname(a, reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    const std::uint16_t port = ntohs(bound.sin_port);
    const int b = listen_reuseport(port);

    std::vector<std::uint64_t> mine;
    for (const auto& f : open_fds(::getpid())) {
        if (f.fd != a && f.fd != b) continue;
        const auto inode = socket_inode(f.target);
        REQUIRE(inode.has_value());
        mine.push_back(*inode);
    }
    std::sort(mine.begin(), mine.end());
    CHECK(mine.size() == 2);
    CHECK(listening_inodes(port) == mine);
    const auto one = listening_inode(port);
    REQUIRE(one.has_value());
    CHECK(std::find(mine.begin(), mine.end(), *one) != mine.end());
    ::close(b);
    CHECK(listening_inodes(port).size() == 1);
    ::close(a);
    CHECK(listening_inodes(port).empty());
}

TEST_CASE("inaccessible mappings: the ---p lines of /proc/PID/maps") {
    const std::string maps =
        "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 123 /usr/bin/server\n"
        "7f12a0000000-7f12a0001000 ---p 00000000 00:00 0 \n"
        "7f12a0001000-7f12a0801000 rw-p 00000000 00:00 0 \n"
        "7f12a1000000-7f12a1001000 ---p 00000000 00:00 0\n"
        "7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]";
    CHECK(count_inaccessible_mappings(maps) == 2);
    CHECK(count_inaccessible_mappings("") == 0);
}
