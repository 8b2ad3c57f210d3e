#pragma once
/// @file traced_replies.hpp
/// @brief Two pipelined replies of the sendfile lab sent under strace, with
/// the bytes each data-moving system call moved: what zero-copy and
/// copy-mode judge. Main thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "check.hpp"
#include "expect.hpp"

namespace csd::grade {

/// What strace saw while the server sent the replies.
struct TracedReplies {
    std::string text;                            ///< strace's output.
    std::map<std::string, std::uint64_t> bytes;  ///< Bytes per call name, tracer probes left out.
};

/// Attaches strace (the calls @p calls, and the tracer probes) to the
/// server, asks for @p first and then @p second bytes on one connection,
/// pipelined, reads nothing for 300 ms (scaled: the socket buffers fill, so
/// the server's sends come up short or say EAGAIN), then checks both
/// replies byte for byte. Skips the check where strace cannot attach. A
/// reply that goes wrong (ReplyFailed) goes to @p on_failure, which may
/// fail with a hint of its own; otherwise it propagates. Fails when the
/// server looks for its tracer.
[[nodiscard]] TracedReplies traced_pipelined_replies(
    Context& ctx, std::string_view calls, std::uint64_t first, std::uint64_t second,
    const std::function<void(const ReplyFailed&)>& on_failure);

}  // namespace csd::grade
