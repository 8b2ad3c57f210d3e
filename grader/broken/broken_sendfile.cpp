// A server of the sendfile lab (docs/contract.md, section 6: byte i of
// every reply is byte i % SIZE of the file given with -f) that is correct
// except for the one bug its name says (broken-BUG, see broken_bug.hpp). One thread per
// client on a non-blocking socket, waiting in poll(), so partial sends
// happen as they do in an event loop (sendfile-lseek-null: no bug, and
// the clients served in turn by the main thread). grader/broken/CMakeLists.txt links
// broken-<bug> to this one program for each bug and checks that csd-grade fails exactly the
// check that bug is about.
//
// Its tests (grader/broken/CMakeLists.txt, csd_broken_source()): each
// `test: BUG LAB CHECK [control CHECK...]` line below makes broken-BUG and
// the test broken.LAB.CHECK.BUG, which grades it as LAB with --check CHECK
// and the controls: CHECK must fail, every control must pass.
// test: sendfile-copy sendfile zero-copy control pipeline
//   Small replies copied, large ones sent (the seventh red-team: full marks
//   while zero-copy measured 56 MiB of large replies only).
// test: sendfile-small-copied sendfile zero-copy control pipeline
// test: sendfile-copies-untraced sendfile zero-copy control pipeline
// test: sendfile-mmap sendfile zero-copy control pipeline
//   Copies unless a system call takes more than 4 µs (strace stops each
//   one): sendfile() only while watched; it never reads TracerPid, so the
//   tracer probes see nothing (the fourth red-team of issue 20: full marks).
//   The untraced page-cache probe catches it.
// test: sendfile-copies-unwatched sendfile zero-copy control pipeline
//   The same for the modes: -m copy sends with sendfile() unless watched,
//   -m splice copies unless watched.
// test: sendfile-copy-unwatched sendfile copy-mode control pipeline
// test: sendfile-splice-unwatched sendfile splice-mode control pipeline
//   Short sends happen with any window once the socket buffer is full, so the
//   zero-copy check (56 MiB checked) fails too: the control is small replies.
// test: sendfile-short sendfile bytes control pipeline
//   Each reply must start at offset 0 of the file, not where the last one ended.
// test: sendfile-continues sendfile pipeline control split
//   One offset, the file's own, for every client: concurrent replies mix
//   (issue 20: it had full marks); one client at a time is still served right.
// test: sendfile-shared-offset sendfile bytes control pipeline
//   A -f file that cannot be served (missing, empty) is found out only at
//   the first request (issue 20: it crashed there, with full marks).
// test: sendfile-no-file-check sendfile start control pipeline
//   A full socket (sendfile says EAGAIN) and the server waits for input
//   instead of for room, as an epoll loop that never asks for EPOLLOUT:
//   small replies pass, a large one stops (issue 20: 57 of 97 points, with
//   a hint about copying; the hint now says what stopped).
// test: sendfile-no-writable-wait sendfile zero-copy control pipeline
//   The file copied into a memfd at start, sent from there: sendfile all
//   the same, from a copy (issue 20: full marks).
// test: sendfile-memfd-copy sendfile zero-copy control pipeline
//   A directory as -f: it opens, and its size is not 0 (issue 20: full marks).
// test: sendfile-any-file sendfile start control pipeline
//   -m copy is the default mode's sendfile() under another name: the
//   bytes are right, nothing is copied (the copy mode was the solution's
//   own until 2026-12, never graded).
// test: sendfile-copy-is-sendfile sendfile copy-mode control pipeline
//   -m copy takes a short send() for the whole buffer.
// test: sendfile-copy-short sendfile copy-mode control pipeline
//   -m copy sends the first 448 KiB of each reply with sendfile(): two
//   replies stay under 1 MiB (the third red-team of issue 20: full marks).
// test: sendfile-copy-head sendfile copy-mode control pipeline
//   -m copy reads the whole file once and sends every reply from that copy
//   (the sixth red-team of issue 20: full marks).
// test: sendfile-copy-cached sendfile copy-mode control pipeline
//   Waits in epoll_wait, and sends until EAGAIN with no write budget: a
//   client that reads fast keeps the loop (the sixth red-team of issue 20:
//   202 MiB in one turn, full marks).
// test: sendfile-no-budget sendfile zero-copy control pipeline
//   -m splice is the default mode's sendfile() under another name.
// test: sendfile-splice-is-sendfile sendfile splice-mode control pipeline
//   -m splice fills the pipe again while it still holds bytes the socket
//   refused: those bytes go out twice.
// test: sendfile-splice-refill sendfile splice-mode control pipeline
//   One pipe for every connection, the bytes a socket refused thrown into
//   /dev/null (the sixth red-team of issue 20: full marks).
// test: sendfile-splice-one-pipe sendfile splice-mode control pipeline
//   Opens /dev/null at every 500th connection and never closes it (issue
//   20: sendfile had no fd-leak check).
// test: sendfile-fd-leak sendfile fd-leak control pipeline
//   -m splice reads the pipe into memory and send()s it: a copy again.
// test: sendfile-splice-reads-pipe sendfile splice-mode control pipeline
//   A pipe per connection never closed (the fifth red-team of issue 20).
// test: sendfile-splice-pipe-leak sendfile splice-mode control pipeline
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

/// The one thing this program gets wrong, set first thing in main().
std::string_view bug;
/// -m copy: the replies go through a buffer, pread() and send().
bool copy_mode = false;
/// -m splice: the replies go from the file to a pipe, then to the socket.
bool splice_mode = false;

// The bugs, each with the check that must catch it:
//   sendfile-copy   pread() into a buffer and send() it: right bytes, copied -> zero-copy
//   sendfile-small-copied  pread() and send() for every piece of 64 KiB or less
//                   (every load's reply), sendfile() for the rest   -> zero-copy
//   sendfile-copies-untraced  the same unless TracerPid in /proc/self/status
//                   says it is traced: sendfile() only under strace  -> zero-copy
//   sendfile-copies-unwatched  the same unless a getppid() takes more than
//                   5 µs (strace's stops, broken::tracer_by_timing()):
//                   sendfile() only while watched, found out by timing -> zero-copy
//   sendfile-copy-unwatched  -m copy sends with sendfile() unless watched -> copy-mode
//   sendfile-splice-unwatched  -m splice copies unless watched      -> splice-mode
//   sendfile-mmap   send() straight from an mmap of the file: no read(), but
//                   every byte still copied from user pages by send()       -> zero-copy
//   sendfile-short  takes every sendfile() as complete, whatever it returned -> bytes
//   sendfile-continues  starts each reply where the previous one on the
//                   connection ended, not at offset 0 of the file           -> pipeline
//   sendfile-shared-offset  lseek() to the start of each reply, then
//                   sendfile(sock, file, NULL, n) for every piece: the file's
//                   own offset, shared by every client's thread              -> bytes
//   sendfile-memfd-copy  copies the file into a memfd at start (mmap and
//                   memcpy) and sendfile()s from the memfd                   -> zero-copy
//   sendfile-any-file  takes any -f that opens and has a size: a directory
//                   too (only regular files can be served)                  -> start
//   sendfile-copy-is-sendfile  -m copy sends with sendfile() too          -> copy-mode
//   sendfile-copy-short  -m copy consumes the whole buffer after a short send -> copy-mode
//   sendfile-copy-head   -m copy sends each reply's first 448 KiB with sendfile() -> copy-mode
//   sendfile-splice-is-sendfile  -m splice sends with sendfile()           -> splice-mode
//   sendfile-splice-refill  -m splice fills the pipe from the reply's offset
//                   while it still holds bytes: they are sent twice        -> splice-mode
//   sendfile-splice-pipe-leak  -m splice: each connection's pipe is never
//                   closed (a copy of both ends left open)                  -> splice-mode
//   sendfile-splice-reads-pipe  -m splice: file to pipe by splice(), then
//                   read() from the pipe and send()                        -> splice-mode
// (-m copy otherwise copies, as the lab asks: pread() and send().)
// and one that is no bug, a server the grader once misjudged:
//   sendfile-lseek-null  lseek() to the reply's offset, then sendfile(sock,
//                   file, NULL, n), serving one client at a time in the main
//                   thread (one thread: the file offset is not shared, and
//                   strace pads its short lines, "...)     = 65536")    -> passes zero-copy

/// The file: descriptor, size, and (sendfile-mmap) its mapping.
struct File {
    int fd = -1;
    std::uint64_t size = 0;
    const char* map = nullptr;
};

/// Waits until @p fd is ready for @p events; false when the client is gone.
bool wait_for(int fd, short events) {
    if (bug == "sendfile-no-budget") {
        // Waits in epoll_wait, as an event loop does (on an epoll set of
        // the thread's one socket): its turns show in strace.
        const csd::Fd ep(::epoll_create1(EPOLL_CLOEXEC));
        epoll_event e{};
        e.events = (events & POLLOUT) != 0 ? EPOLLOUT : EPOLLIN;
        if (!ep || ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e) != 0) return false;
        for (;;) {
            const int n = ::epoll_wait(ep.get(), &e, 1, -1);
            if (n > 0) return true;
            if (n < 0 && errno != EINTR) return false;
        }
    }
    pollfd p{fd, events, 0};
    for (;;) {
        const int n = ::poll(&p, 1, -1);
        if (n > 0) return (p.revents & (POLLERR | POLLNVAL)) == 0 || (p.revents & events) != 0;
        if (n < 0 && errno != EINTR) return false;
    }
}

/// True when TracerPid in /proc/self/status is not 0 (strace is attached).
bool traced() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("TracerPid:", 0) == 0) return std::stol(line.substr(10)) != 0;
    }
    return false;
}

/// The pipe of -m splice: the connection's own (a thread serves one
/// connection), and the bytes it holds that the socket has not taken.
struct Pipe {
    csd::Fd read_end;
    csd::Fd write_end;
    std::size_t held = 0;
};

/// -m splice: up to @p count bytes of the file from @p at through the
/// thread's pipe; returns what send_piece() does.
long splice_piece(int sock, const File& file, std::uint64_t at, std::size_t count) {
    if (bug == "sendfile-splice-one-pipe") {
        // One pipe for every connection; what the socket refuses is thrown
        // into /dev/null and read from the file again next time.
        static std::mutex mutex;
        static Pipe shared;
        static csd::Fd devnull;
        const std::lock_guard lock(mutex);
        if (!shared.read_end) {
            std::array<int, 2> ends{};
            if (::pipe2(ends.data(), O_CLOEXEC | O_NONBLOCK) != 0) return -1;
            shared.read_end = csd::Fd(ends[0]);
            shared.write_end = csd::Fd(ends[1]);
            devnull = csd::Fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        }
        loff_t offset = static_cast<loff_t>(at);
        const ssize_t in =
            ::splice(file.fd, &offset, shared.write_end.get(), nullptr, count, SPLICE_F_NONBLOCK);
        if (in <= 0) return in < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
        ssize_t n = ::splice(shared.read_end.get(), nullptr, sock, nullptr,
                             static_cast<std::size_t>(in), SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
        n = std::max<ssize_t>(n, 0);
        if (n < in) {
            (void)::splice(shared.read_end.get(), nullptr, devnull.get(), nullptr,
                           static_cast<std::size_t>(in - n), SPLICE_F_NONBLOCK);
        }
        return n;
    }
    static thread_local Pipe pipe;
    if (!pipe.read_end) {
        std::array<int, 2> ends{};
        if (::pipe2(ends.data(), O_CLOEXEC | O_NONBLOCK) != 0) return -1;
        pipe.read_end = csd::Fd(ends[0]);
        pipe.write_end = csd::Fd(ends[1]);
        if (bug == "sendfile-splice-pipe-leak") {  // a copy of both ends, never closed
            (void)::fcntl(ends[0], F_DUPFD_CLOEXEC, 0);
            (void)::fcntl(ends[1], F_DUPFD_CLOEXEC, 0);
        }
    }
    // sendfile-splice-refill: more from the reply's offset, on top of what is held.
    if (pipe.held == 0 || bug == "sendfile-splice-refill") {
        loff_t offset = static_cast<loff_t>(at);
        const ssize_t in =
            ::splice(file.fd, &offset, pipe.write_end.get(), nullptr, count, SPLICE_F_NONBLOCK);
        if (in < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (in > 0) pipe.held += static_cast<std::size_t>(in);
    }
    if (bug == "sendfile-splice-reads-pipe") {
        // The pipe read into memory, then all of it sent, waiting for room.
        static thread_local std::array<char, 64 * 1024> buf;
        const ssize_t got =
            ::read(pipe.read_end.get(), buf.data(), std::min(pipe.held, buf.size()));
        if (got <= 0) return -1;
        pipe.held -= static_cast<std::size_t>(got);
        std::string_view left(buf.data(), static_cast<std::size_t>(got));
        while (!left.empty()) {
            const csd::WriteResult w = csd::write_some(sock, left);
            if (w.status == csd::WriteStatus::peer_gone) return -1;
            left.remove_prefix(w.bytes);
            if (w.status == csd::WriteStatus::would_block && !wait_for(sock, POLLOUT)) return -1;
        }
        return got;
    }
    const ssize_t n = ::splice(pipe.read_end.get(), nullptr, sock, nullptr, pipe.held,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    pipe.held -= static_cast<std::size_t>(n);
    return n;
}

/// The *-unwatched bugs: whether a tracer seemed to watch when the thread's
/// connection began (broken::tracer_by_timing(), set by serve()).
thread_local bool connection_watched = false;

/// Sends up to @p count bytes of the file from @p at; returns the bytes
/// the session may consume, 0 when the socket is full, -1 when the client is gone.
long send_piece(int sock, const File& file, std::uint64_t at, std::size_t count) {
    const bool unwatched = bug.ends_with("-unwatched") && !connection_watched;
    if (splice_mode && bug != "sendfile-splice-is-sendfile" &&
        !(bug == "sendfile-splice-unwatched" && unwatched)) {
        return splice_piece(sock, file, at, count);
    }
    constexpr std::uint64_t head = 448 * 1024;  // sendfile-copy-head: by sendfile()
    const bool head_by_sendfile = bug == "sendfile-copy-head" && at < head;
    if (head_by_sendfile)
        count = static_cast<std::size_t>(std::min<std::uint64_t>(count, head - at));
    const bool sendfile_anyway =
        bug == "sendfile-copy-is-sendfile" || (bug == "sendfile-copy-unwatched" && unwatched);
    // Bug sendfile-small-copied: a reply of 64 KiB or less goes through a buffer.
    const bool small_copied = bug == "sendfile-small-copied" && count <= 64 * 1024;
    if (bug == "sendfile-copy" || (bug == "sendfile-copies-untraced" && !traced()) ||
        (small_copied && !copy_mode && !splice_mode) ||
        (unwatched && bug != "sendfile-copy-unwatched") ||
        (copy_mode && !sendfile_anyway && !head_by_sendfile)) {
        if (bug == "sendfile-copy-cached") {
            // The bug: the whole file read once, every reply sent from that copy.
            static std::once_flag once;
            static std::string cache;
            std::call_once(once, [&] {
                cache.resize(static_cast<std::size_t>(file.size));
                for (std::size_t done = 0; done < cache.size();) {
                    const ssize_t n = ::pread(file.fd, cache.data() + done, cache.size() - done,
                                              static_cast<off_t>(done));
                    if (n <= 0) break;
                    done += static_cast<std::size_t>(n);
                }
            });
            const std::string_view piece = std::string_view(cache).substr(
                static_cast<std::size_t>(at), std::min<std::size_t>(count, 16 * 1024));
            const csd::WriteResult w = csd::write_some(sock, piece);
            if (w.status == csd::WriteStatus::peer_gone) return -1;
            return static_cast<long>(w.bytes);
        }
        static thread_local std::array<char, 16 * 1024> buf;
        const ssize_t got =
            ::pread(file.fd, buf.data(), std::min(count, buf.size()), static_cast<off_t>(at));
        if (got <= 0) return -1;
        const csd::WriteResult w =
            csd::write_some(sock, std::string_view(buf.data(), static_cast<std::size_t>(got)));
        if (w.status == csd::WriteStatus::peer_gone) return -1;
        // The bug: a short send taken for the whole buffer.
        if (bug == "sendfile-copy-short" && w.bytes > 0) return static_cast<long>(got);
        return static_cast<long>(w.bytes);
    }
    if (bug == "sendfile-mmap") {
        const csd::WriteResult w = csd::write_some(sock, std::string_view(file.map + at, count));
        if (w.status == csd::WriteStatus::peer_gone) return -1;
        return static_cast<long>(w.bytes);
    }
    off_t offset = static_cast<off_t>(at);
    ssize_t n = 0;
    if (bug == "sendfile-lseek-null") {
        // The file's own offset: the kernel advances it, nobody else moves it.
        if (::lseek(file.fd, offset, SEEK_SET) < 0) return -1;
        n = ::sendfile(sock, file.fd, nullptr, count);
    } else if (bug == "sendfile-shared-offset") {
        // The file's own offset again, set once per pass through the file:
        // between two pieces, another client's thread moves it.
        if (at == 0 && ::lseek(file.fd, 0, SEEK_SET) < 0) return -1;
        n = ::sendfile(sock, file.fd, nullptr, count);
    } else {
        n = ::sendfile(sock, file.fd, &offset, count);
    }
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (bug == "sendfile-short") return static_cast<long>(count);  // the bug: a short send is "all"
    return n;
}

/// Serves one client on the non-blocking socket @p fd until it is done.
void serve(csd::Fd fd, const File& file) {
    if (bug.ends_with("-unwatched")) connection_watched = broken::tracer_by_timing();
    csd::Session session;
    std::array<char, 4096> buf{};
    std::uint64_t stream = 0;  // reply bytes sent on this connection
    for (;;) {
        while (session.reply_left() > 0) {
            const std::uint64_t at =
                (bug == "sendfile-continues" ? stream : session.reply_offset()) % file.size;
            const auto count = static_cast<std::size_t>(
                std::min({session.reply_left(), file.size - at, std::uint64_t{1} << 20}));
            const long n = send_piece(fd.get(), file, at, count);
            if (n < 0) return;
            const short room = bug == "sendfile-no-writable-wait" ? POLLIN : POLLOUT;
            if (n == 0 && !wait_for(fd.get(), room)) return;
            session.consume(static_cast<std::size_t>(n));
            stream += static_cast<std::uint64_t>(n);
        }
        if (session.finished()) return;
        if (!wait_for(fd.get(), POLLIN)) return;
        if (csd::pump_input(fd.get(), session, buf, 64 * 1024) == csd::Pump::gone) return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(
        argv[0],
        "sendfile-copy sendfile-small-copied sendfile-copies-untraced sendfile-copies-unwatched "
        "sendfile-copy-unwatched "
        "sendfile-splice-unwatched sendfile-mmap sendfile-short sendfile-continues "
        "sendfile-lseek-null "
        "sendfile-shared-offset sendfile-no-file-check sendfile-no-writable-wait "
        "sendfile-memfd-copy sendfile-any-file sendfile-copy-is-sendfile sendfile-copy-short "
        "sendfile-copy-head sendfile-splice-is-sendfile sendfile-splice-refill "
        "sendfile-splice-reads-pipe sendfile-splice-pipe-leak sendfile-fd-leak "
        "sendfile-splice-one-pipe sendfile-copy-cached sendfile-no-budget");
    const csd::CommandLine line{.flags = {{.letter = 'f',
                                           .help = "the file the replies are made of",
                                           .value_name = "FILE",
                                           .any_value = true},
                                          {.letter = 'm',
                                           .help = "how the replies leave",
                                           .value_name = "MODE",
                                           .choices = {"sendfile", "copy", "splice"},
                                           .default_value = "sendfile"}}};
    const csd::ServerOptions options = csd::parse_server_options(argc, argv, line);
    copy_mode = options.value('m') == "copy";
    splice_mode = options.value('m') == "splice";
    std::signal(SIGPIPE, SIG_IGN);
    File file;
    if (bug == "sendfile-no-file-check") {
        // Opened, and its size taken, without a look at what came of it.
        file.fd = ::open(options.value('f').c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (::fstat(file.fd, &st) == 0) file.size = static_cast<std::uint64_t>(st.st_size);
    } else {
        // Refused at start, as the contract says: a message and status 1.
        file.fd = ::open(options.value('f').c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (file.fd < 0 || ::fstat(file.fd, &st) != 0 || st.st_size == 0 ||
            (!S_ISREG(st.st_mode) && bug != "sendfile-any-file")) {
            std::fprintf(stderr, "server: %s: cannot be served (missing, empty or not a file)\n",
                         options.value('f').c_str());
            return 1;
        }
        file.size = static_cast<std::uint64_t>(st.st_size);
    }
    if (bug == "sendfile-memfd-copy") {
        const int copy = ::memfd_create("copy", MFD_CLOEXEC);
        if (copy < 0 || ::ftruncate(copy, static_cast<off_t>(file.size)) != 0) return 1;
        void* from = ::mmap(nullptr, file.size, PROT_READ, MAP_SHARED, file.fd, 0);
        void* to = ::mmap(nullptr, file.size, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
        if (from == MAP_FAILED || to == MAP_FAILED) return 1;
        std::memcpy(to, from, file.size);
        ::munmap(from, file.size);
        ::munmap(to, file.size);
        ::close(file.fd);
        file.fd = copy;
    }
    if (bug == "sendfile-mmap") {
        file.map = static_cast<const char*>(
            csd::check_mmap(::mmap(nullptr, file.size, PROT_READ, MAP_SHARED, file.fd, 0), "mmap"));
    }
    const csd::Fd listener = csd::listen_tcp(options.host, options.port);
    csd::announce_listening(options.host, options.port);
    unsigned long accepted = 0;
    for (;;) {
        csd::Accepted a = csd::accept_connection(listener.get(), csd::IoMode::nonblocking);
        if (a.status != csd::AcceptStatus::accepted) continue;
        if (bug == "sendfile-fd-leak" && ++accepted % 500 == 0) {
            (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the bug: never closed
        }
        if (bug == "sendfile-lseek-null") {
            serve(std::move(a.connection), file);  // one thread, one client at a time
            continue;
        }
        std::thread(serve, std::move(a.connection), std::cref(file)).detach();
    }
}
