// splice-mode: the sendfile lab's -m splice, what sendfile() does inside
// the kernel written out: each reply goes from the -f file into a pipe and
// from the pipe into the socket, both by splice(2), exact across partial
// sends (what the pipe holds when the socket is full is still owed), and
// neither sendfile() nor the server's own memory moves a byte. Seen from
// outside as zero-copy sees the default mode: with strace, and with no
// tracer by rewriting the -f file under a queued reply.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "page_cache_probe.hpp"
#include "procfs.hpp"
#include "strace_text.hpp"
#include "traced_replies.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// Every call that moves bytes: the kernel's and those through user memory.
const std::string traced = fmt::format("{},{},{}", kernel_copy_calls, read_calls, write_calls);

constexpr const char* splice_hint =
    "with -m splice, each piece goes from the file into the connection's own pipe (splice "
    "with the file's offset), then from the pipe into the socket (splice again); a byte is "
    "sent only once it reached the socket";

// The bytes splice() moved out of the -f file, and out of anything else (a
// pipe, toward the socket).
struct SpliceBytes {
    std::uint64_t from_file = 0;
    std::uint64_t from_other = 0;
};

// What splice() moved in strace's output @p text, by source.
SpliceBytes splice_bytes(const std::string& text, ServedFileFds& served) {
    SpliceBytes out;
    for (const auto& c : parse_strace(text)) {
        if (c.name != "splice" || !c.succeeded()) continue;
        const int fd = c.fd();
        if (fd < 0) continue;
        (served.is_served(fd) ? out.from_file : out.from_other) +=
            static_cast<std::uint64_t>(*c.value);
    }
    return out;
}

// The pipes the server holds open (its pipe:[...] descriptors).
std::size_t open_pipes(pid_t pid) {
    const auto fds = procfs::open_fds(pid);
    return static_cast<std::size_t>(
        std::count_if(fds.begin(), fds.end(),
                      [](const procfs::FdInfo& f) { return f.target.starts_with("pipe:"); }));
}

// The pipes the server holds open, by inode (both ends of one are one).
std::set<std::string> pipe_inodes(pid_t pid) {
    std::set<std::string> out;
    for (const auto& f : procfs::open_fds(pid)) {
        if (f.target.starts_with("pipe:")) out.insert(f.target);
    }
    return out;
}

// The bytes splice() moved into a descriptor that is neither a socket nor a
// pipe (one still open, read in /proc/PID/fd): the bytes a socket refused,
// thrown away (into /dev/null) instead of being kept for the next send.
std::uint64_t spliced_elsewhere(const std::string& text, pid_t pid, std::string& where) {
    const auto fds = procfs::open_fds(pid);
    std::uint64_t out = 0;
    for (const auto& c : parse_strace(text)) {
        if (c.name != "splice" || !c.succeeded()) continue;
        const auto args = c.arguments();
        if (args.size() < 3) continue;
        int dest = -1;
        const auto arg = args[2];
        const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), dest);
        if (ec != std::errc{} || end == arg.data()) continue;
        const auto f = std::find_if(fds.begin(), fds.end(),
                                    [&](const procfs::FdInfo& i) { return i.fd == dest; });
        if (f == fds.end() || f->target.starts_with("socket:") || f->target.starts_with("pipe:")) {
            continue;
        }
        out += static_cast<std::uint64_t>(*c.value);
        where = fmt::format("fd {} -> {}", dest, f->target);
    }
    return out;
}

// With 3 replies of 64 MiB owed at once (the grader reads none), each
// connection has a pipe of its own holding what its full socket refused:
// one pipe for every connection cannot keep three replies' bytes apart.
void require_pipe_per_connection(Context& ctx) {
    const auto before = pipe_inodes(ctx.pid());
    std::vector<Connection> owed;
    const Deadline overall(10s);
    for (int i = 0; i < 3; ++i) {
        owed.push_back(Connection::open(ctx.port(), overall.within(3s)));
        owed.back().send_all(request_line(64ULL << 20), overall.within(3s),
                             "a 64 MiB request, its reply left unread");
    }
    std::size_t added = 0;
    (void)poll_until(1s, [&] {
        added = 0;
        for (const auto& p : pipe_inodes(ctx.pid()))
            if (!before.contains(p)) ++added;
        return added >= owed.size();
    });
    for (auto& c : owed) c.reset();
    ctx.log("splice-mode: {} new pipes while 3 replies were owed", added);
    if (added >= owed.size()) return;
    ctx.require_running("while 3 replies of 64 MiB were owed");
    fail(fmt::format("with -m splice, while 3 clients' replies of 64 MiB were owed at once (none "
                     "read), the server held {} new pipe{} (/proc/{}/fd)",
                     added, added == 1 ? "" : "s", ctx.pid()),
         "with -m splice each connection has a pipe of its own: what its full socket refused "
         "stays in that pipe, owed to that client, and goes first at its next send");
}

// splice-mode: with -m splice, 34 MiB of replies by splice, exact.
void check_splice_mode(Context& ctx) {
    const std::size_t pipes_before = open_pipes(ctx.pid());
    // The socket fills while the pipe still holds bytes.
    const std::uint64_t total = mode_replies_total;
    const TracedReplies seen = traced_mode_replies(
        ctx, traced, "splice",
        "with -m splice, a full socket leaves bytes in the pipe: they are still owed (consume() "
        "only what the second splice moved) and go first next time, before the pipe is filled "
        "from the file again",
        "with -m splice too, a full socket means waiting for room (EPOLLOUT) while a reply is "
        "owed, bytes in the pipe included");
    std::uint64_t by_sendfile = 0;
    std::uint64_t copied = 0;
    for (const auto& [name, n] : seen.bytes) {
        if (name == "sendfile" || name == "copy_file_range") by_sendfile += n;
        if (!in_kernel_copy(name) && name != "vmsplice") copied += n;
    }
    if (by_sendfile > 0) {
        fail(fmt::format("with -m splice, sendfile still sent {} KiB of the {} MiB of replies",
                         (by_sendfile + 1023) >> 10, total >> 20),
             "-m splice writes out what sendfile() does inside the kernel: the file into a "
             "pipe, the pipe into the socket, by splice(). sendfile() under another name "
             "shows nothing");
    }
    // Reading the requests costs a few bytes; the replies are 34 MiB.
    if (copied >= (1u << 20)) {
        fail(fmt::format("with -m splice, while it sent {} MiB of replies, the server's read "
                         "and write calls moved {} MiB through its memory",
                         total >> 20, copied >> 20),
             splice_hint);
    }
    ServedFileFds served(ctx);
    if (!served.known()) skip("the -f file is gone: where the bytes came from cannot be told");
    const SpliceBytes moved = splice_bytes(seen.text, served);
    ctx.log("splice-mode: splice moved {} bytes out of the -f file, {} out of pipes",
            moved.from_file, moved.from_other);
    if (moved.from_file < total - total / 10 || moved.from_other < total - total / 10) {
        fail(fmt::format("with -m splice, of the {} MiB of replies, splice moved {} MiB out of "
                         "the -f file and {} MiB out of a pipe (into the socket); both should "
                         "be all of them",
                         total >> 20, moved.from_file >> 20, moved.from_other >> 20),
             splice_hint);
    }
    std::string where;
    if (const std::uint64_t lost = spliced_elsewhere(seen.text, ctx.pid(), where); lost > 0) {
        fail(fmt::format("with -m splice, splice moved {} KiB into {}, neither a socket nor a "
                         "pipe: bytes thrown away",
                         (lost + 1023) >> 10, where),
             "what a full socket refused stays in the connection's pipe, still owed: send it "
             "first next time; never drain the pipe elsewhere and splice from the file again");
    }
    require_pipe_per_connection(ctx);
    require_page_cache_bytes(ctx, "with -m splice, ", splice_hint);
    // Every connection of the check has closed: so have their pipes.
    std::size_t pipes_after = open_pipes(ctx.pid());
    const Deadline settle(2s);
    while (pipes_after > pipes_before && !settle.expired()) {
        std::this_thread::sleep_for(10ms);
        pipes_after = open_pipes(ctx.pid());
    }
    ctx.log("splice-mode: {} pipes open before the check, {} after its clients closed",
            pipes_before, pipes_after);
    if (pipes_after > pipes_before) {
        fail(fmt::format("with -m splice, the server held {} pipe descriptors before this "
                         "check and {} once every client of it had closed (/proc/{}/fd): each "
                         "connection's pipe outlives it",
                         pipes_before, pipes_after, ctx.pid()),
             "close a connection's pipe (both ends) when the connection closes: a leaked pair "
             "per client runs the server out of descriptors");
    }
}

}  // namespace

CSD_CHECK(splice_mode) {
    return {"splice-mode",
            10,
            check_splice_mode,
            "started with -m splice, the server sends 34 MiB of replies exact, every byte moved "
            "by splice: strace sees splice move them out of the -f file and out of a pipe, and "
            "no sendfile, read or write move them; with no tracer, the queued bytes of a reply "
            "change with the -f file rewritten in place",
            "write -m splice as the handout's step 8 says: a pipe per connection, splice() from "
            "the file into it at the reply's offset, splice() from it into the socket, and only "
            "what reached the socket counts as sent",
            {"cpu"}};
}

}  // namespace csd::grade
