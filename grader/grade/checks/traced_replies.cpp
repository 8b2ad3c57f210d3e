// Two pipelined replies sent under strace (traced_replies.hpp).
#include "traced_replies.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "checks.hpp"
#include "strace_text.hpp"
#include "timing.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

std::optional<TracedReplies> traced_replies(
    Context& ctx, std::string_view calls, const std::function<void()>& drive,
    const std::function<void(const ReplyFailed&)>& on_failure, std::string& why_not) {
    Strace trace(ctx.pid(), std::string(calls) + tracer_probe_calls);
    if (!trace.attached()) {
        why_not = trace.why_not();
        return std::nullopt;
    }
    try {
        drive();
    } catch (const ReplyFailed& e) {
        (void)trace.finish();
        on_failure(e);
        throw;
    } catch (...) {
        (void)trace.finish();
        throw;
    }
    TracedReplies out;
    out.text = trace.finish();
    require_no_tracer_probe(ctx, out.text);
    out.bytes = strace_bytes_per_call(out.text);
    std::erase_if(out.bytes, [](const auto& entry) { return is_tracer_probe_call(entry.first); });
    return out;
}

TracedReplies traced_pipelined_replies(Context& ctx, std::string_view calls, std::uint64_t first,
                                       std::uint64_t second,
                                       const std::function<void(const ReplyFailed&)>& on_failure) {
    const auto drive = [&] {
        Connection conn = Connection::open(ctx.port(), Deadline(3s));
        conn.send_all(request_line(first) + request_line(second), Deadline(3s), "two requests");
        std::this_thread::sleep_for(scaled(300ms));
        expect_reply(ctx.reply(), conn, first, Deadline(20s), fmt::format("request {}", first));
        expect_reply(ctx.reply(), conn, second, Deadline(30s), fmt::format("request {}", second));
    };
    std::string why_not;
    auto seen = traced_replies(ctx, calls, drive, on_failure, why_not);
    if (!seen) {
        ctx.require_running("while strace attached to it");
        skip(why_not);
    }
    return std::move(*seen);
}

TracedReplies traced_mode_replies(Context& ctx, std::string_view calls, std::string_view mode,
                                  std::string_view wrong_byte_hint, std::string_view stalled_hint) {
    // Pipelined, read after a pause: the server's sends surely come up
    // short, or say EAGAIN.
    const std::uint64_t first = 4u << 20;
    const std::uint64_t second = mode_replies_total - first;
    return traced_pipelined_replies(ctx, calls, first, second, [&](const ReplyFailed& e) {
        if (e.problem() == ReplyProblem::wrong_byte) {
            fail(fmt::format("with -m {}: {}", mode, e.what()), std::string(wrong_byte_hint));
        }
        if (e.problem() == ReplyProblem::stalled) {
            fail(fmt::format("with -m {}: {}", mode, e.what()), std::string(stalled_hint));
        }
    });
}

ServedFileFds::ServedFileFds(Context& ctx) : pid_(ctx.pid()) {
    const auto& args = ctx.server().args();
    const auto f = std::find(args.begin(), args.end(), "-f");
    struct stat file {};
    if (f != args.end() && f + 1 != args.end() && ::stat((f + 1)->c_str(), &file) == 0) {
        file_ = file;
    }
}

bool ServedFileFds::is_served(int fd) {
    if (!file_) return false;
    const auto known = seen_.find(fd);
    if (known != seen_.end()) return known->second;
    struct stat st {};
    const bool same = ::stat(fmt::format("/proc/{}/fd/{}", pid_, fd).c_str(), &st) == 0 &&
                      st.st_dev == file_->st_dev && st.st_ino == file_->st_ino;
    seen_.emplace(fd, same);
    return same;
}

bool in_kernel_copy(std::string_view name) {
    return name == "sendfile" || name == "splice" || name == "tee" || name == "copy_file_range";
}

}  // namespace csd::grade
