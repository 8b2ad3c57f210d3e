// zero-copy: the file's bytes go from the page cache to the socket inside
// the kernel (sendfile or splice); they never pass through the server's
// memory. Seen from outside twice: with strace, the bytes every data-moving
// system call of the server returned while it sent 56 MiB of replies; and
// with no tracer at all, the bytes a reply had queued when the -f file was
// rewritten in place changed with it (page_cache_probe.hpp), which copies
// made in the server's memory would not. Then 100 small replies (4000
// bytes, a load's), which must leave by sendfile or splice as well.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "bounded_turns.hpp"
#include "checks.hpp"
#include "expect.hpp"
#include "page_cache_probe.hpp"
#include "procfs.hpp"
#include "strace_text.hpp"
#include "trace.hpp"
#include "traced_replies.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that move bytes: the zero-copy ones, and those that copy
// between user memory and a descriptor (vmsplice too: it hands user pages
// to a pipe).
const std::string traced = fmt::format("{},{},{}", kernel_copy_calls, read_calls, write_calls);

// The descriptor that the zero-copy call @p c reads from: sendfile's
// second argument, splice's and copy_file_range's first; -1 for others.
int source_fd(const StraceCall& c) {
    if (c.name == "splice" || c.name == "copy_file_range") return c.fd();
    if (c.name != "sendfile") return -1;
    const auto args = c.arguments();
    if (args.size() < 2) return -1;
    int fd = -1;
    const std::string_view a = args[1];
    const auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), fd);
    return ec == std::errc() && end != a.data() ? fd : -1;
}

// The zero-copy bytes must come from the -f file itself (its page cache),
// not from a copy of it (a memfd or an anonymous file filled at start).
void require_from_served_file(Context& ctx, const std::string& text, std::uint64_t total) {
    ServedFileFds served(ctx);
    if (!served.known()) {
        ctx.log("where the sendfile bytes come from not checked: no -f file");
        return;
    }
    std::uint64_t from_file = 0;
    std::set<int> others;  // sources that are not the file (a splice's pipe end among them)
    for (const auto& c : parse_strace(text)) {
        const int fd = source_fd(c);
        if (fd < 0 || !c.succeeded()) continue;
        if (served.is_served(fd)) {
            from_file += static_cast<std::uint64_t>(*c.value);
        } else if (c.name != "splice") {  // splice file -> pipe -> socket: the pipe end is no copy
            others.insert(fd);
        }
    }
    ctx.log("zero-copy: {} bytes read by the kernel from the -f file itself", from_file);
    if (from_file >= total - total / 10) return;
    std::string read_from;
    const auto fds = procfs::open_fds(ctx.pid());
    for (const int fd : others) {
        const auto open = std::find_if(fds.begin(), fds.end(),
                                       [&](const procfs::FdInfo& info) { return info.fd == fd; });
        read_from += fmt::format("{}fd {} ({})", read_from.empty() ? "" : ", ", fd,
                                 open != fds.end() ? open->target : "closed since");
    }
    fail(fmt::format("of the {} MiB of replies, only {} MiB were sent from the -f file itself "
                     "(the zero-copy calls read from {})",
                     total >> 20, from_file >> 20,
                     read_from.empty() ? std::string("descriptors that are gone") : read_from),
         "sendfile from the file you were given, opened once at start: the kernel sends its "
         "pages from the page cache. A copy of it (a memfd, a buffer filled at start) is one "
         "more copy of every byte, and not the lesson");
}

/// The small replies of small_replies_by_kernel(): as many as a load's.
constexpr int small_replies = 100;
/// Their size: a load's reply.
constexpr std::uint64_t small_reply = 4000;

// The replies a load asks for are small: small_replies of small_reply bytes,
// pipelined on one connection under strace, must leave by sendfile or
// splice too (90 % of their bytes), not only the large ones: a server that
// copies every reply up to some size through its memory copies nearly
// everything a real load asks for.
void require_small_replies_by_kernel(Context& ctx) {
    std::string requests;
    for (int i = 0; i < small_replies; ++i) requests += request_line(small_reply);
    const auto drive = [&] {
        Connection conn = Connection::open(ctx.port(), Deadline(3s));
        conn.send_all(requests, Deadline(3s), "the small requests");
        const Deadline overall(20s);
        for (int i = 1; i <= small_replies; ++i) {
            expect_reply(ctx.reply(), conn, small_reply, overall,
                         fmt::format("small request {} of {}", i, small_replies));
        }
    };
    std::string why_not;
    const auto traced_small = traced_replies(
        ctx, traced, drive, [](const ReplyFailed&) {}, why_not);
    if (!traced_small) {
        ctx.log("small replies not checked: {}", why_not);
        return;
    }
    std::uint64_t kernel = 0;
    std::string seen;
    for (const auto& [name, n] : traced_small->bytes) {
        if (in_kernel_copy(name)) kernel += n;
        seen += fmt::format("{}{} {} B", seen.empty() ? "" : ", ", name, n);
    }
    const std::uint64_t total = small_replies * small_reply;
    ctx.log("zero-copy, {} replies of {} bytes: {} bytes by sendfile/splice ({})", small_replies,
            small_reply, kernel, seen);
    if (kernel >= total - total / 10) return;
    fail(fmt::format("{} replies of {} bytes, pipelined on one connection under strace: "
                     "sendfile or splice sent {} of their {} bytes (strace saw: {}); the rest "
                     "went through the server's memory",
                     small_replies, small_reply, kernel, total,
                     seen.empty() ? std::string("no data-moving system call") : seen),
         "every reply leaves by sendfile(), small ones too: a load's replies are a few KiB, so "
         "copying the small ones through your memory copies nearly everything it asks for");
}

// zero-copy: the served file's bytes leave by sendfile or splice, never by read and write.
void check_zero_copy(Context& ctx) {
    // 16 MiB, then 40 MiB (longer than the file: it wraps around), pipelined.
    // Read nothing for a while: the 16 MiB cannot all wait in the two
    // sockets' buffers (a few MiB), so the server's sendfile() surely meets
    // a full socket (EAGAIN) and must wait for room, whatever the machine's
    // speed.
    const std::uint64_t first = 16u << 20;
    const std::uint64_t second = 40u << 20;
    const std::uint64_t total = first + second;
    const TracedReplies seen =
        traced_pipelined_replies(ctx, traced, first, second, [](const ReplyFailed& e) {
            if (e.problem() != ReplyProblem::stalled) return;
            // The socket's send buffer filled (sendfile said EAGAIN) and the
            // server never came back to this reply: it does not wait for the
            // socket to be writable again.
            fail(e.what(),
                 "the reply stopped when the socket's send buffer was full: a non-blocking "
                 "sendfile() sends what fits and says EAGAIN. Keep the reply's offset, ask epoll "
                 "for EPOLLOUT on that connection while a reply is owed (and only then), and send "
                 "the rest when it comes");
        });
    const std::string& text = seen.text;
    const auto& bytes = seen.bytes;
    std::uint64_t kernel = 0;
    std::uint64_t copied = 0;
    std::string copies;
    for (const auto& [name, n] : bytes) {
        if (in_kernel_copy(name)) {
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
    if (kernel >= total - total / 10) {
        require_from_served_file(ctx, text, total);
        // What strace saw could be a show for the tracer: with none, the
        // queued bytes must still be the page cache's own.
        require_page_cache_bytes(ctx, "",
                                 "send the file with sendfile() every time, watched or not: a "
                                 "copy through your memory is what the lab measures it against");
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
    // A turn of the loop sends at most write_budget (1 MiB) to one
    // connection (the handout's step 3): a client that reads fast does not
    // keep the loop for itself while the others wait. 8 MiB leaves room for
    // a budget of one's own.
    require_bounded_turns(ctx, "in the default mode",
                          "send at most write_budget to a connection in one turn of the loop",
                          8u << 20);
    require_small_replies_by_kernel(ctx);
}

}  // namespace

CSD_CHECK(zero_copy) {
    return {"zero-copy",
            20,
            check_zero_copy,
            "56 MiB of replies leave by sendfile(2) (or splice): strace sees no read or write "
            "call move the file's bytes; and with no tracer, the bytes of a reply waiting in the "
            "sockets change when the grader rewrites the -f file in place (they are the page "
            "cache's pages, not copies); 100 replies of 4000 bytes leave by sendfile too",
            "send the file with sendfile(sock, file, &offset, count): the kernel moves the bytes "
            "from the page cache to the socket. A read()/write() loop, or write() from an mmap of "
            "the file, copies every byte through your memory",
            {"cpu"}};
}

}  // namespace csd::grade
