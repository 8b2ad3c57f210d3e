// segments (cork lab, docs/contract.md, section 6, "cork"): small replies
// arrive as one TCP segment each (counted by the grader's own socket,
// TCP_INFO), and each header is seen written by a call of its own and
// TCP_CORK is seen set on the client's socket, so the one segment is the
// cork's doing (not writev, not MSG_MORE): recorded first by perf's
// tracepoints (where perf may record: a server cannot tell them from no
// tracer at all), then with strace attached, which also sees the cork's
// value and so whether it was on while the header was written.
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <map>
#include <optional>

#include "checks.hpp"
#include "cork_samples.hpp"
#include "expect.hpp"
#include "perf_calls.hpp"
#include "strace_text.hpp"
#include "trace.hpp"

namespace csd::grade {

using namespace std::chrono_literals;
using namespace cork;

namespace {

// What a successful setsockopt(TCP_CORK) call @p c set the cork to;
// nullopt for any other call.
std::optional<bool> cork_set(const StraceCall& c) {
    if (c.name != "setsockopt" || !c.succeeded()) return std::nullopt;
    const auto args = c.arguments();
    if (args.size() < 4 || args[2] != "TCP_CORK") return std::nullopt;
    return args[3] != "[0]";
}

/// Replies watched while the header is looked for.
constexpr int replies = 5;

// @p replies requests for 1000 bytes on one connection, @p how watched.
void serve_watched_replies(Context& ctx, std::string_view how) {
    const Deadline overall(20s);
    Connection conn = Connection::open(ctx.port(), overall.within(3s));
    for (int i = 1; i <= replies; ++i) {
        const std::string what = fmt::format("{} request {} of {} for 1000 bytes", how, i, replies);
        conn.send_all(request_line(1000), overall.within(3s), what);
        expect_reply(ctx.reply(), conn, 1000, overall.within(3s), what);
    }
}

const char* const write_apart_hint =
    "keep the two writes (the header line, then the body) and cork around them: TCP_CORK on "
    "before the header, off after the body";
const char* const no_cork_hint =
    "set TCP_CORK on the client's socket before the header and clear it after the body; "
    "MSG_MORE is the same hint for one call (the handout's \"Going further\"), but the lab "
    "grades the cork";

// Fails unless each of the replies' headers was an output call of its own:
// @p headers of the @p all output calls to clients wrote 5 bytes, as
// @p seen ("strace saw") says.
void require_headers_alone(std::string_view seen, long all, long headers) {
    if (headers >= replies) return;
    fail(fmt::format("{} replies of 1000 bytes came in one segment each, but {} the server "
                     "write them in {} output calls, {} of them the 5-byte header alone: header "
                     "and body were sent together, so no cork was needed (the contract asks for "
                     "two writes, header then body)",
                     replies, seen, all, headers),
         write_apart_hint);
}

// The same with perf recording the calls, no strace attached: a server
// that finds strace by timing its own calls, and corks only while it seems
// watched, is seen here. perf sees a call's arguments but not the memory
// they point to: the header is an output call of 5 bytes (write, sendto),
// the cork a setsockopt(IPPROTO_TCP, TCP_CORK) whatever its value, at
// least once (a cork left on is uncork's to judge).
void expect_cork_unwatched(Context& ctx) {
    PerfCalls perf(ctx.pid(), {"write", "writev", "sendto", "sendmsg", "setsockopt"});
    if (!perf.attached()) {
        ctx.log("the two writes of each reply not recorded without strace: {}", perf.why_not());
        return;
    }
    try {
        serve_watched_replies(ctx, "recorded");
    } catch (...) {
        (void)perf.finish();
        throw;
    }
    int all = 0;
    int headers = 0;
    int corks = 0;
    const auto events = perf.finish();
    if (!events) {
        ctx.log("the two writes of each reply not recorded without strace: {}", perf.why_not());
        return;
    }
    for (const PerfEvent& e : *events) {
        if (e.fd() <= 2) continue;
        if (e.name == "setsockopt") {
            corks += e.field("level") == IPPROTO_TCP && e.field("optname") == TCP_CORK ? 1 : 0;
            continue;
        }
        ++all;
        const std::uint64_t length = e.name == "write" ? e.field("count") : e.field("len");
        if ((e.name == "write" || e.name == "sendto") && length == 5) ++headers;
    }
    ctx.log(
        "recorded by perf (no strace): {} output calls to clients, {} of 5 bytes, {} "
        "setsockopt(TCP_CORK)",
        all, headers, corks);
    require_headers_alone("with no strace attached, perf's system call tracepoints saw", all,
                          headers);
    if (corks == 0) {
        fail(fmt::format("with no strace attached, perf's system call tracepoints saw no "
                         "setsockopt(TCP_CORK) call for {} replies: the single segment came "
                         "another way (MSG_MORE on the header, or autocorking), not from the "
                         "cork this lab is about",
                         replies),
             no_cork_hint);
    }
}

// One segment a reply is the lesson only if the header and the body are
// written apart (the contract's two writes): one write of both makes one
// segment without TCP_CORK. With strace attached, @p replies requests for
// 1000 bytes: each header ("1000\n", 5 bytes) must be one output call of
// its own, and TCP_CORK must be set on a client's socket at least once.
// Without strace or ptrace this part is logged and left out.
void expect_header_written_alone(Context& ctx) {
    Strace trace(ctx.pid(),
                 std::string("write,writev,send,sendto,sendmsg,setsockopt") + tracer_probe_calls);
    if (!trace.attached()) {
        ctx.log("the two writes of each reply not checked: {}", trace.why_not());
        return;
    }
    serve_watched_replies(ctx, "traced");
    const std::string text = trace.finish();
    require_no_tracer_probe(ctx, text);
    const auto calls = parse_output_calls(text);
    const auto to_clients = [](const OutputCall& c) { return c.fd > 2; };
    const auto headers = std::count_if(calls.begin(), calls.end(), [&](const OutputCall& c) {
        return to_clients(c) && c.result == 5;
    });
    const auto all = std::count_if(calls.begin(), calls.end(), to_clients);
    ctx.log("traced output calls: {} to clients, {} of 5 bytes", all, headers);
    require_headers_alone("strace saw", all, headers);
    const auto set_calls = parse_strace(text);
    const auto corks = std::count_if(set_calls.begin(), set_calls.end(), [](const StraceCall& c) {
        return c.fd() > 2 && cork_set(c).value_or(false);
    });
    ctx.log("traced setsockopt(TCP_CORK) on: {}", corks);
    if (corks == 0) {
        fail(fmt::format("{} replies of 1000 bytes came in one segment each, but strace saw no "
                         "setsockopt() setting TCP_CORK on the client's socket: the single "
                         "segment came another way (MSG_MORE on the header, or autocorking), "
                         "not from the cork this lab is about",
                         replies),
             no_cork_hint);
    }
    // The cork must hold the header: each 5-byte header written while
    // TCP_CORK is on for its socket (the calls in the order they started).
    std::map<int, bool> corked;
    int headers_corked = 0;
    int headers_seen = 0;
    for (const StraceCall& c : set_calls) {
        if (c.fd() <= 2 || !c.succeeded()) continue;
        if (const auto cork = cork_set(c)) {
            corked[c.fd()] = *cork;
        } else if (c.value && *c.value == 5 && is_output_call(c.name)) {
            ++headers_seen;
            if (corked[c.fd()]) ++headers_corked;
        }
    }
    ctx.log("headers written while corked: {} of {}", headers_corked, headers_seen);
    if (headers_corked < replies) {
        fail(fmt::format("strace saw TCP_CORK set, but only {} of the {} headers were written "
                         "while the cork was on for their socket: a cork set and cleared "
                         "before the header holds nothing, and the one segment came another "
                         "way",
                         headers_corked, headers_seen),
             "set TCP_CORK before writing the header and clear it only after the body: the "
             "cork must be on while both are written");
    }
}

// segments (cork): small replies arrive as one TCP segment each (TCP_INFO).
void check_segments(Context& ctx) {
    const auto samples = sample_replies(ctx, samples_taken, 1000);
    const auto whole = std::count_if(samples.begin(), samples.end(),
                                     [](const Sample& s) { return s.segments == 1; });
    ctx.log("segments per reply: {}",
            list(samples, [](const Sample& s) { return std::to_string(s.segments); }));
    if (whole < samples_needed) {
        fail(
            fmt::format("{} replies of 1000 bytes (5-byte header, then the body) came in {} TCP "
                        "segments each (tcpi_data_segs_in of the grader's socket); only {} in "
                        "one segment, {} needed",
                        samples_taken,
                        list(samples, [](const Sample& s) { return std::to_string(s.segments); }),
                        whole, samples_needed));
    }
    expect_cork_unwatched(ctx);
    expect_header_written_alone(ctx);
}

}  // namespace

CSD_CHECK(segments) {
    return {"segments", 10, check_segments,
            "cork: 10 small replies, one at a time: at least 8 arrive as one TCP segment each "
            "(TCP_INFO tcpi_data_segs_in of the grader's socket); recorded by perf's system call "
            "tracepoints (where perf may record) and again with strace attached, each header is "
            "written by a call of its own and TCP_CORK is set on the client's socket",
            "with TCP_NODELAY each write leaves as its own segment: set TCP_CORK before the "
            "header and clear it after the body, so the kernel sends the reply as one segment"};
}

}  // namespace csd::grade
