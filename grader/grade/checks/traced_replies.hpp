#pragma once
/// @file traced_replies.hpp
/// @brief Replies of the sendfile lab sent under strace (two pipelined
/// ones, or any a check asks for), with the bytes each data-moving system
/// call moved: what zero-copy and copy-mode judge. Main thread only.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "check.hpp"
#include "expect.hpp"

namespace csd::grade {

/// The calls that move a file's bytes to a socket inside the kernel, and
/// vmsplice (it hands user pages to a pipe, for splice): strace names,
/// x86-64 and arm64.
inline constexpr std::string_view kernel_copy_calls =
    "sendfile,splice,tee,copy_file_range,vmsplice";
/// The calls that write from the server's memory to a descriptor.
inline constexpr std::string_view write_calls =
    "write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg,sendmmsg";
/// The calls that read from a descriptor into the server's memory.
inline constexpr std::string_view read_calls = "read,pread64,readv,preadv,preadv2,recvfrom,recvmsg";

/// True for the calls of kernel_copy_calls that move the bytes themselves
/// (all but vmsplice): what zero-copy wants and copy-mode forbids.
[[nodiscard]] bool in_kernel_copy(std::string_view name);

/// What strace saw while the server sent the replies.
struct TracedReplies {
    std::string text;                            ///< strace's output.
    std::map<std::string, std::uint64_t> bytes;  ///< Bytes per call name, tracer probes left out.
};

/// Attaches strace (the calls @p calls, and the tracer probes) to the
/// server and runs @p drive, which asks the server for replies and checks
/// them; then what strace saw, after require_no_tracer_probe(). A reply
/// that goes wrong (ReplyFailed) goes to @p on_failure, which may fail with
/// a hint of its own; otherwise it propagates. nullopt, with the reason in
/// @p why_not, when strace cannot attach.
[[nodiscard]] std::optional<TracedReplies> traced_replies(
    Context& ctx, std::string_view calls, const std::function<void()>& drive,
    const std::function<void(const ReplyFailed&)>& on_failure, std::string& why_not);

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

/// The replies of a mode of the sendfile lab (copy-mode, splice-mode): 4
/// MiB, then 30 MiB (longer than the file: it wraps around), through
/// traced_pipelined_replies() with @p calls. A wrong byte fails with
/// @p wrong_byte_hint, a reply that stopped with @p stalled_hint, each
/// message starting "with -m MODE" (@p mode). Their total is 34 MiB
/// (mode_replies_total).
[[nodiscard]] TracedReplies traced_mode_replies(Context& ctx, std::string_view calls,
                                                std::string_view mode,
                                                std::string_view wrong_byte_hint,
                                                std::string_view stalled_hint);

/// The bytes of the two replies of traced_mode_replies().
inline constexpr std::uint64_t mode_replies_total = (4u << 20) + (30u << 20);

/// Which descriptors of the server are the file it was given with -f (the
/// same device and inode, through /proc/PID/fd), each looked up once: the
/// sources of the zero-copy calls that zero-copy and splice-mode add up.
/// Main thread only.
class ServedFileFds {
  public:
    /// For the server of @p ctx, whose -f file is looked at now.
    explicit ServedFileFds(Context& ctx);

    /// False when the server was started without -f or the file is gone.
    [[nodiscard]] bool known() const noexcept { return file_.has_value(); }

    /// True when descriptor @p fd of the server is the -f file.
    [[nodiscard]] bool is_served(int fd);

  private:
    pid_t pid_;
    std::optional<struct stat> file_;
    std::map<int, bool> seen_;  // descriptor -> it is the file
};

}  // namespace csd::grade
