// zero-copy: the file's bytes go from the page cache to the socket inside
// the kernel (sendfile or splice); they never pass through the server's
// memory. Seen from outside with strace: the bytes every data-moving system
// call of the server returned while it sent 56 MiB of replies.
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "checks.hpp"
#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "server.hpp"
#include "strace_text.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that move bytes (their x86-64 and arm64 names): the zero-copy
// ones, and those that copy between user memory and a descriptor (vmsplice
// too: it hands user pages to a pipe).
constexpr const char* traced =
    "sendfile,splice,tee,copy_file_range,vmsplice,read,pread64,readv,preadv,preadv2,write,"
    "pwrite64,writev,pwritev,pwritev2,sendto,sendmsg,sendmmsg,recvfrom,recvmsg";

bool zero_copy_call(const std::string& name) {
    return name == "sendfile" || name == "splice" || name == "tee" || name == "copy_file_range";
}

// The path of the strace program, or "" when there is none.
std::string find_strace() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/strace";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

// True once some process traces @p pid (TracerPid in /proc/PID/status).
bool traced_now(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("TracerPid:", 0) == 0)
            return std::strtol(line.c_str() + 10, nullptr, 10) > 0;
    }
    return false;
}

// Reads everything in the memfd @p fd.
std::string contents(const csd::Fd& fd) {
    return read_all(fd.get());
}

}  // namespace

void check_zero_copy(Context& ctx) {
    const std::string strace = find_strace();
    if (strace.empty()) skip("strace is not installed: the server's system calls cannot be seen");
    const csd::Fd out(csd::check(::memfd_create("csd-grade-strace", MFD_CLOEXEC), "memfd_create"));
    const pid_t tracer = spawn({strace, "-f", "-qq", "-e", std::string("trace=") + traced, "-e",
                                "signal=none", "-p", std::to_string(ctx.pid())},
                               -1, out.get());
    // Ends strace (it detaches on SIGINT) and returns what it wrote.
    auto finish = [&] {
        ::kill(tracer, SIGINT);
        if (!wait_child(tracer, Deadline(3s))) {
            ::kill(tracer, SIGKILL);
            (void)wait_child(tracer, Deadline(2s));
        }
        return contents(out);
    };
    const Deadline attach(3s);
    while (!traced_now(ctx.pid())) {
        if (child_status(tracer) || attach.expired()) {
            const std::string said = finish();
            ctx.require_running("while strace attached to it");
            skip(fmt::format("strace could not attach to the server (pid {}): {}", ctx.pid(),
                             tail_lines(said, 2)));
        }
        std::this_thread::sleep_for(5ms);
    }

    // 16 MiB, then 40 MiB (longer than the file: it wraps around), pipelined.
    const std::uint64_t first = 16u << 20;
    const std::uint64_t second = 40u << 20;
    const std::uint64_t total = first + second;
    try {
        Connection conn = Connection::open(ctx.port(), Deadline(3s));
        conn.send_all(request_line(first) + request_line(second), Deadline(3s), "two requests");
        expect_reply(conn, first, Deadline(20s), fmt::format("request {}", first));
        expect_reply(conn, second, Deadline(30s), fmt::format("request {}", second));
    } catch (...) {
        (void)finish();
        throw;
    }
    const auto bytes = strace_bytes_per_call(finish());
    std::uint64_t kernel = 0;
    std::uint64_t copied = 0;
    std::string copies;
    for (const auto& [name, n] : bytes) {
        if (zero_copy_call(name)) {
            kernel += n;
        } else {
            copied += n;
            if (n >= (1u << 20)) copies += fmt::format(", {} {} MiB", name, n >> 20);
        }
    }
    ctx.log("zero-copy: {} bytes by sendfile/splice, {} by read/write calls", kernel, copied);
    // Reading the requests costs a few bytes; the replies are 56 MiB.
    if (copied >= (1u << 20)) {
        fail(fmt::format(
            "while it sent {} MiB of replies, the server's read and write calls "
            "moved {} MiB through its memory ({}); sendfile and splice moved {} MiB",
            total >> 20, copied >> 20, copies.empty() ? "" : copies.substr(2), kernel >> 20));
    }
    if (kernel < total - total / 10) {
        fail(fmt::format(
            "of the {} MiB of replies, sendfile or splice sent only {} MiB (strace "
            "saw: {})",
            total >> 20, kernel >> 20,
            bytes.empty() ? std::string("no data-moving system call") : [&] {
                std::string s;
                for (const auto& [name, n] : bytes)
                    s += fmt::format("{}{} {} B", s.empty() ? "" : ", ", name, n);
                return s;
            }()));
    }
}

}  // namespace csd::grade
