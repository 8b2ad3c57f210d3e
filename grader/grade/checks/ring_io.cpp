// ring-io: the uring lab's server accepts, receives and sends through its
// ring, never by calling accept, read or send itself. Seen from outside
// while clients are served: the socket calls the server made, recorded
// first by perf's tracepoints (where perf may record: a server cannot tell
// them from no tracer at all), then by strace.
#include <fmt/format.h>

#include <linux/io_uring.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "perf_calls.hpp"
#include "procfs.hpp"
#include "ring_timers.hpp"
#include "strace_text.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that accept, receive, send or wait on sockets by themselves
// (x86-64 and arm64 names; strace ignores those this machine lacks).
// preadv2 and pwritev2 with offset -1 are readv and writev under other
// names; preadv and pwritev fail on a socket, but are counted all the same.
constexpr const char* traced =
    "accept,accept4,read,readv,preadv,preadv2,recvfrom,recvmsg,recvmmsg,write,writev,pwritev,"
    "pwritev2,sendto,sendmsg,sendmmsg,sendfile,splice,select,pselect6,poll,ppoll,epoll_wait,"
    "epoll_pwait,epoll_pwait2";

// The same calls by the names of their tracepoints (syscalls:sys_enter_*).
const std::vector<std::string> perf_traced{
    "accept",  "accept4",    "read",        "readv",       "preadv",  "preadv2",  "recvfrom",
    "recvmsg", "recvmmsg",   "write",       "writev",      "pwritev", "pwritev2", "sendto",
    "sendmsg", "sendmmsg",   "sendfile64",  "splice",      "select",  "pselect6", "poll",
    "ppoll",   "epoll_wait", "epoll_pwait", "epoll_pwait2"};

// The submission queue entries of every ring of @p pid
// (ring_timers::sqe_array_bytes()).
std::vector<io_uring_sqe> submitted_entries(pid_t pid) {
    std::vector<io_uring_sqe> out;
    for (const std::string& bytes : ring_timers::sqe_array_bytes(pid)) {
        for (std::size_t at = 0; at + sizeof(io_uring_sqe) <= bytes.size();
             at += sizeof(io_uring_sqe)) {
            io_uring_sqe e{};
            std::memcpy(&e, bytes.data() + at, sizeof e);
            out.push_back(e);
        }
    }
    return out;
}

// The lesson's receive: into a buffer the kernel picks from the provided
// buffers (IOSQE_BUFFER_SELECT), not into one the server set aside per
// connection. Seen in the SQEs the server submitted; where the arrays
// cannot be read, logged and left out.
void require_provided_buffers(Context& ctx) {
    const auto entries = submitted_entries(ctx.pid());
    if (entries.empty()) {
        ctx.log("provided buffers not checked: no SQE array readable in /proc/{}/maps and mem",
                ctx.pid());
        return;
    }
    int selecting = 0;  // receives into a provided buffer
    int own = 0;        // recv/recvmsg into the server's own memory
    for (const auto& e : entries) {
        const bool receive = e.opcode == IORING_OP_RECV || e.opcode == IORING_OP_RECVMSG ||
                             e.opcode == IORING_OP_READ || e.opcode == IORING_OP_READV;
        if (!receive) continue;
        if ((e.flags & IOSQE_BUFFER_SELECT) != 0) {
            ++selecting;
        } else if (e.opcode == IORING_OP_RECV || e.opcode == IORING_OP_RECVMSG) {
            ++own;  // READ may be the stop eventfd's, into a buffer of its own
        }
    }
    ctx.log("ring-io: SQEs in the ring: {} receives select a provided buffer, {} do not", selecting,
            own);
    if (selecting > 0 && own == 0) return;
    fail(fmt::format("in the {} submission queue entries of the server's ring, {} receive{} "
                     "select{} a provided buffer (IOSQE_BUFFER_SELECT) and {} recv{} into "
                     "memory of the server's own (/proc/{}/maps, the SQE array)",
                     entries.size(), selecting, selecting == 1 ? "" : "s",
                     selecting == 1 ? "s" : "", own, own == 1 ? "" : "s", ctx.pid()),
         "receive into the provided buffers: a recv SQE with no buffer, the buffer group set "
         "and IOSQE_BUFFER_SELECT; the kernel picks a buffer when data comes (the CQE says "
         "which), so an idle connection holds no memory");
}

}  // namespace

std::map<std::string, int> ring_io_socket_calls(const std::string& trace) {
    std::map<std::string, int> calls;
    for (const StraceCall& call : parse_strace(trace)) {
        // The end of a call whose start strace did not show, on a descriptor
        // it did not show either, is not counted.
        if (!call.entered) continue;
        if (is_tracer_probe_call(call.name)) continue;  // require_no_tracer_probe()'s
        // Calls on stdin, stdout and stderr (a log line) are not socket I/O.
        const int fd = call.fd();
        if (fd >= 0 && fd <= 2) continue;
        ++calls[call.name];
    }
    return calls;
}

namespace {

// 31 clients served: 20 one after another, then 10 at once, and a big
// reply that comes out in many short sends.
void serve_31_clients(Context& ctx) {
    const Deadline overall(30s);
    for (int i = 0; i < 20; ++i) {
        Connection conn = Connection::open(ctx.port(), overall.within(3s));
        conn.send_all(request_line(4000), overall.within(3s), "request 4000");
        expect_reply(ctx.reply(), conn, 4000, overall.within(3s), "request 4000");
    }
    std::vector<Connection> together;
    for (int i = 0; i < 10; ++i) {
        together.push_back(Connection::open(ctx.port(), overall.within(3s)));
        together.back().send_all(request_line(65536), overall.within(3s), "request 65536");
    }
    for (auto& conn : together)
        expect_reply(ctx.reply(), conn, 65536, overall.within(3s), "65536 bytes");
    Connection big = Connection::open(ctx.port(), overall.within(3s));
    big.send_all(request_line(4u << 20), overall.within(3s), "request 4 MiB");
    expect_reply(ctx.reply(), big, 4u << 20, overall.within(10s), "4 MiB reply");
}

// "sendto x3, recvfrom x2" for @p calls.
std::string call_list(const std::map<std::string, int>& calls, int& total) {
    total = 0;
    std::string seen;
    for (const auto& [name, n] : calls) {
        total += n;
        seen += fmt::format("{}{} x{}", seen.empty() ? "" : ", ", name, n);
    }
    return seen;
}

// The same 31 clients with perf recording the calls (where it can): a
// server that finds strace by timing its own calls and makes them only
// while nobody seems to watch is seen here.
void require_no_socket_calls_unwatched(Context& ctx) {
    PerfCalls perf(ctx.pid(), perf_traced);
    if (!perf.attached()) {
        ctx.log("ring-io: calls not recorded without strace: {}", perf.why_not());
        return;
    }
    try {
        serve_31_clients(ctx);
    } catch (...) {
        (void)perf.finish();
        throw;
    }
    const auto events = perf.finish();
    if (!events) {
        ctx.log("ring-io: calls not recorded without strace: {}", perf.why_not());
        return;
    }
    std::map<std::string, int> calls;
    for (const PerfEvent& e : *events) {
        const int fd = e.fd();
        if (fd >= 0 && fd <= 2) continue;  // a log line
        ++calls[e.name];
    }
    int total = 0;
    const std::string seen = call_list(calls, total);
    ctx.log("ring-io: {} socket calls outside the ring, recorded by perf (no strace)", total);
    if (total > 0) {
        fail(
            fmt::format("while it served 31 clients with no strace attached, perf's system "
                        "call tracepoints saw the server make {} call{} of its own on sockets "
                        "(not through the ring): {}",
                        total, total == 1 ? "" : "s", seen));
    }
}

// ring-io (uring): while 31 clients are served, recorded by perf and then
// traced by strace, the server makes no accept, read, recv, write, send or
// wait call on a socket itself: all of them are ring requests.
// The first requests of a fresh ring (the handout's step 2), read in its
// SQE array right after the start: the accept is one multishot request
// (not one request per client), and a request waits on the stop
// descriptor (a poll, or a read, of csd::stop_fd()), so that SIGTERM
// arrives as a completion. A loop that instead looks at a flag before
// io_uring_enter() sleeps on when the signal comes between the two.
void require_first_requests(Context& ctx) {
    const Readiness ready = ctx.server().start(5s, ctx.server().args());
    if (!ready.accepting) fail("restarting the server for a fresh ring: " + ready.problem);
    const auto entries = submitted_entries(ctx.pid());
    if (entries.empty()) {
        ctx.log("first requests not checked: no SQE array readable in /proc/{}/maps and mem",
                ctx.pid());
        return;
    }
    const auto fds = procfs::open_fds(ctx.pid());
    const auto waits_for_stop = [&](const io_uring_sqe& e) {
        if (e.opcode != IORING_OP_POLL_ADD && e.opcode != IORING_OP_READ &&
            e.opcode != IORING_OP_READV) {
            return false;
        }
        if ((e.flags & IOSQE_FIXED_FILE) != 0) return true;  // a registered file: not told
        return std::any_of(fds.begin(), fds.end(), [&](const procfs::FdInfo& f) {
            return f.fd == e.fd &&
                   (f.target == "anon_inode:[eventfd]" || f.target == "anon_inode:[signalfd]" ||
                    f.target.starts_with("pipe:"));
        });
    };
    int accepts = 0;
    int single = 0;
    bool stop_wait = false;
    for (const auto& e : entries) {
        if (e.opcode == IORING_OP_ACCEPT) {
            ++accepts;
            if ((e.ioprio & IORING_ACCEPT_MULTISHOT) == 0) ++single;
        }
        stop_wait = stop_wait || waits_for_stop(e);
    }
    ctx.log(
        "ring-io: a fresh ring holds {} accept requests ({} single-shot); a request on the "
        "stop descriptor: {}",
        accepts, single, stop_wait ? "yes" : "no");
    if (single > 0) {
        fail(fmt::format("after a fresh start and one client, {} of the {} accept requests in the "
                         "server's ring are single-shot (no IORING_ACCEPT_MULTISHOT; its SQE "
                         "array, /proc/{}/maps and mem)",
                         single, accepts, ctx.pid()),
             "submit the accept once, as one multishot request (io_uring_prep_multishot_accept), "
             "which completes once per connection; submit it again only when a completion "
             "comes without IORING_CQE_F_MORE");
    }
    if (!stop_wait) {
        fail(fmt::format("after a fresh start, no request in the server's ring waits on the stop "
                         "descriptor (a poll or a read of an eventfd; none of the {} slots of "
                         "its SQE array, /proc/{}/maps and mem)",
                         entries.size(), ctx.pid()),
             "submit a poll request for input on csd::stop_fd() at start "
             "(io_uring_prep_poll_add): SIGTERM then ends the wait as a completion. A flag "
             "looked at before io_uring_enter() misses a signal that comes between the look "
             "and the wait, and the loop sleeps on");
    }
}

void check_ring_io(Context& ctx) {
    require_first_requests(ctx);
    require_no_socket_calls_unwatched(ctx);
    Strace trace(ctx.pid(), std::string(traced) + tracer_probe_calls);
    if (!trace.attached()) {
        ctx.require_running("while strace attached to it");
        skip(trace.why_not());
    }
    try {
        serve_31_clients(ctx);
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    int total = 0;
    const std::string seen = call_list(ring_io_socket_calls(text), total);
    ctx.log("ring-io: {} socket calls outside the ring", total);
    if (total > 0) {
        fail(
            fmt::format("while it served 31 clients, strace saw the server make {} call{} of its "
                        "own on sockets (not through the ring): {}",
                        total, total == 1 ? "" : "s", seen));
    }
    require_provided_buffers(ctx);
}

}  // namespace

CSD_CHECK(ring_io) {
    return {"ring-io",
            10,
            check_ring_io,
            "uring: a fresh ring holds one multishot accept and a request on the stop "
            "descriptor; while 31 clients are served, recorded by perf's system call tracepoints "
            "(where perf may record) and again with strace attached, the server makes no accept, "
            "read, recv, write, send (preadv2, pwritev2 ...) or wait call on a socket itself",
            "submit every accept, recv and send as a ring request (io_uring_prep_multishot_accept, "
            "io_uring_prep_recv, io_uring_prep_send) and use what its completion says; do not make "
            "the call yourself, not even after a poll request said the socket was ready",
            {"cpu"}};
}

}  // namespace csd::grade
