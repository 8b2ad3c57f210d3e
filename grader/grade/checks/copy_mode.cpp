// copy-mode: the sendfile lab's -m copy, the old way the lab measures
// sendfile against, really copies: the file's bytes pass through the
// server's memory and leave by write or send calls, exact across partial
// sends, and no sendfile or splice moves them. Seen from outside as
// zero-copy sees the default mode: with strace, and with no tracer by
// rewriting the -f file under a queued reply.
#include <fmt/format.h>

#include <string_view>

#include "checks.hpp"
#include "expect.hpp"
#include "page_cache_probe.hpp"
#include "strace_text.hpp"
#include "traced_replies.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The calls that move bytes from the file to the socket in the kernel,
// those that write from user memory to a descriptor, and those that read.
const std::string traced = fmt::format("{},{},{}", kernel_copy_calls, write_calls, read_calls);

// A call of read_calls: it reads into the server's memory (from the file,
// or a request).
bool read_call(std::string_view name) {
    std::string_view rest = read_calls;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        if (rest.substr(0, comma) == name) return true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return false;
}

// A call that moves bytes without a write from the server's memory.
bool in_kernel_call(const std::string& name) {
    return in_kernel_copy(name) || name == "vmsplice";
}

// copy-mode: with -m copy, 34 MiB of replies leave by write/send calls, exact.
void check_copy_mode(Context& ctx) {
    // The copy's send() surely takes only part of a buffer, or says EAGAIN.
    const std::uint64_t total = mode_replies_total;
    const TracedReplies seen = traced_mode_replies(
        ctx, traced, "copy",
        "with -m copy, send() on a non-blocking socket may take only part of the buffer: count "
        "exactly what it took, and send the rest (from the buffer, or read again from the file "
        "at the new offset) before the next piece",
        "with -m copy too, a full socket means waiting for room (EPOLLOUT) while a reply is "
        "owed, then sending the rest");
    const auto& bytes = seen.bytes;
    std::uint64_t kernel = 0;
    std::uint64_t written = 0;
    for (const auto& [name, n] : bytes) {
        if (!read_call(name)) (in_kernel_call(name) ? kernel : written) += n;
    }
    ctx.log("copy-mode: {} bytes by write/send calls, {} by sendfile/splice", written, kernel);
    // Not a byte: a copy that sends part of each reply with sendfile()
    // measures a mix.
    if (kernel > 0) {
        fail(fmt::format("with -m copy, sendfile or splice still sent {} KiB of the {} MiB of "
                         "replies: -m copy is not a copy",
                         (kernel + 1023) >> 10, total >> 20),
             "-m copy is the old way the lab measures sendfile against: read the file's bytes "
             "into a buffer of yours (pread) and send() them from there. The same sendfile() "
             "under another name measures nothing");
    }
    if (written < total - total / 10) {
        fail(
            fmt::format("with -m copy, the server's write and send calls moved only {} MiB "
                        "of the {} MiB of replies",
                        written >> 20, total >> 20));
    }
    // Each piece read from the file when it is sent: replies sent from a
    // copy of the file kept in memory (read once, at start or at the first
    // reply) measure a memcpy, not the copy sendfile saves.
    ServedFileFds served(ctx);
    if (served.known()) {
        std::uint64_t from_file = 0;
        for (const auto& c : parse_strace(seen.text)) {
            if (read_call(c.name) && c.succeeded() && c.fd() >= 0 && served.is_served(c.fd())) {
                from_file += static_cast<std::uint64_t>(*c.value);
            }
        }
        ctx.log("copy-mode: {} bytes read out of the -f file", from_file);
        if (from_file < total - total / 10) {
            fail(fmt::format("with -m copy, while it sent {} MiB of replies, the server's read "
                             "calls took {} MiB out of the -f file: the rest came from a copy "
                             "kept in memory",
                             total >> 20, from_file >> 20),
                 "-m copy reads each piece from the file when it sends it (pread() at the "
                 "reply's offset into a buffer, then send()): that read and copy per reply is "
                 "what sendfile() saves, and what `./csd bench sendfile` measures");
        }
    }
    // With no tracer too: the queued bytes are copies, which keep their
    // value when the file is rewritten.
    require_copied_bytes(ctx,
                         "-m copy copies every time, watched or not: pread() into your buffer, "
                         "send() from it");
}

}  // namespace

CSD_CHECK(copy_mode) {
    return {"copy-mode",
            10,
            check_copy_mode,
            "started with -m copy, the server sends 34 MiB of replies exact through its own "
            "memory: strace sees write or send calls move them, and no sendfile or splice; with "
            "no tracer, the queued bytes of a reply keep their value when the -f file is "
            "rewritten in place (copies)",
            "write -m copy as the handout's step 7 says: pread() a piece of the file into a "
            "buffer, send() it, and count a partial send as what it is; it is what "
            "`./csd bench sendfile` compares sendfile() with",
            {"cpu"}};
}

}  // namespace csd::grade
