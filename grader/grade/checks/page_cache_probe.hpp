#pragma once
/// @file page_cache_probe.hpp
/// @brief Where the sendfile lab's reply bytes come from, seen without a
/// tracer: the bytes already queued toward the client when the grader
/// rewrites the -f file in place. Main thread only.
///
/// sendfile(2) and splice(2) queue references to the page cache's own
/// pages in the socket, not copies: when the file's bytes change in place
/// (the same pages), the bytes still waiting in the sockets change with
/// them. A server that copied them through its memory (read or pread, then
/// write or send) queued copies, which keep the old bytes. No system call
/// of the server is looked at, so a server cannot show one thing to strace
/// and do another.

#include <cstdint>
#include <optional>
#include <string_view>

#include "check.hpp"

namespace csd::grade {

/// What the probe saw.
struct PageCacheProbe {
    /// Bytes of the reply in the client's receive queue when the file was
    /// rewritten (FIONREAD): sent by the server before the rewrite.
    std::uint64_t queued = 0;
    /// Of those, how many arrived with the file's new bytes.
    std::uint64_t rewritten = 0;
    /// Of those, how many arrived with its old bytes.
    std::uint64_t old = 0;
};

/// Asks the running server for 8 MiB on a new connection and reads none of
/// it until the client's receive queue stops growing; then overwrites the
/// first 8 MiB of the -f file in place (each byte complemented: the same
/// inode, size and pages), reads the whole reply, and writes the file's
/// bytes back whatever happens. Returns nullopt when the lab serves no
/// file, or when less than 16 KiB was queued (nothing to judge). Fails
/// (CheckFailed) when the reply does not come, is cut, or holds bytes that
/// are neither the old nor the new ones.
[[nodiscard]] std::optional<PageCacheProbe> page_cache_probe(Context& ctx);

/// Fails unless most queued bytes came out rewritten: they were the page
/// cache's pages (sendfile, splice). @p mode ("", or "with -m splice: ")
/// starts the message; @p hint is the failure's hint.
void require_page_cache_bytes(Context& ctx, std::string_view mode, std::string_view hint);

/// Fails unless most queued bytes kept their old value: they were copies
/// made in the server's memory (-m copy). @p hint is the failure's hint.
void require_copied_bytes(Context& ctx, std::string_view hint);

}  // namespace csd::grade
