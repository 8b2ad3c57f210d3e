// races: the server's threads share nothing unguarded. The grader runs a
// ThreadSanitizer build of the same server (csd-grade --tsan PROGRAM,
// which `./csd grade` builds; or the graded program itself when it is one)
// through concurrent pipelined clients, short connections that come and
// go, idle clients and SIGTERM, and reads ThreadSanitizer's reports on
// its stderr: a data race (a plain bool stop flag, a queue or counter
// without its lock), a thread never joined (thread leak), a lock-order
// inversion. What two threads may do at once is the lesson of the thread
// labs; a race works in every run of a test until it does not, and only a
// race detector sees it from outside.
#include "races.hpp"

#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "sandbox.hpp"
#include "server.hpp"
#include "text_lines.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace races {

namespace {

std::string& build_path() {
    static std::string path;
    return path;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// @p text with each word's directories left out ("/a/b/server.cpp:80" ->
// "server.cpp:80").
std::string without_directories(std::string_view text) {
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t space = std::min(text.find(' ', at), text.size());
        std::string_view word = text.substr(at, space - at);
        if (const std::size_t slash = word.rfind('/'); slash != std::string_view::npos) {
            word.remove_prefix(slash + 1);
        }
        out += (out.empty() ? "" : " ") + std::string(word);
        at = space + 1;
    }
    return out;
}

// A stack frame line "#0 on_stop /path/server.cpp:80:5 (prog+0x1234)" as
// "on_stop server.cpp:80:5": the frame number, the file's directories and
// the module offset left out.
std::string frame_text(std::string_view frame) {
    if (const std::size_t paren = frame.rfind(" ("); paren != std::string_view::npos) {
        frame = frame.substr(0, paren);
    }
    if (const std::size_t space = frame.find(' '); space != std::string_view::npos) {
        frame.remove_prefix(space + 1);
    }
    return without_directories(frame);
}

// True for a frame of the sanitizer's own runtime (its interceptors:
// pthread_create, operator new), which says nothing of the server's code.
bool runtime_frame(std::string_view frame) {
    return frame.find("libsanitizer/") != std::string_view::npos ||
           frame.find("(libtsan") != std::string_view::npos ||
           frame.find("/compiler-rt/") != std::string_view::npos ||
           frame.find(" __tsan") != std::string_view::npos;
}

}  // namespace

void set_tsan_build(std::string path) {
    build_path() = std::move(path);
}

const std::string& tsan_build() {
    return build_path();
}

std::string first_report(std::string_view stderr_text) {
    const auto lines = lines_of(stderr_text);
    constexpr std::string_view warning = "WARNING: ThreadSanitizer: ";
    std::size_t reports = 0;
    std::size_t first = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find(warning) == std::string_view::npos) continue;
        if (reports++ == 0) first = i;
    }
    if (reports == 0) return {};
    std::string_view kind = lines[first].substr(lines[first].find(warning) + warning.size());
    if (const std::size_t paren = kind.find(" (pid="); paren != std::string_view::npos) {
        kind = kind.substr(0, paren);
    }
    std::string out =
        fmt::format("ThreadSanitizer reported {} problem{}; the first, a {}:", reports,
                    reports == 1 ? "" : "s", trimmed(kind));
    // Each access or thread of the report ("Write of size 1 at 0x... by
    // main thread:", "Previous read ...", "Thread T2 (tid=...) created by
    // main thread at:") with its stack's first frame in the server's own
    // code, up to the report's SUMMARY line.
    constexpr std::string_view summary_prefix = "SUMMARY: ThreadSanitizer: ";
    std::string summary;
    std::string pending;  // a heading still waiting for its frame
    int headings = 0;
    for (std::size_t i = first + 1; i < lines.size(); ++i) {
        const std::string_view line = trimmed(lines[i]);
        if (line.starts_with(summary_prefix)) {
            summary = without_directories(line.substr(summary_prefix.size()));
            break;
        }
        if (line.find(warning) != std::string_view::npos || line.starts_with("=====")) break;
        if (line.empty()) continue;
        if (line.starts_with("#")) {
            if (!pending.empty() && !runtime_frame(line)) {
                out += fmt::format("\n  {}: {}", pending, frame_text(line));
                pending.clear();
            }
            continue;
        }
        pending.clear();  // a heading whose frames were all the runtime's
        if (line.starts_with("Location is")) continue;
        if (line.ends_with(":") && headings < 4) {
            std::string heading(line.substr(0, line.size() - 1));
            if (heading.ends_with(" at")) heading.resize(heading.size() - 3);
            // "Write of size 1 at 0x7b0400000010 by main thread" -> no address.
            if (const std::size_t at = heading.find(" at 0x"); at != std::string::npos) {
                const std::size_t end = heading.find(' ', at + 4);
                heading.erase(at, end == std::string::npos ? std::string::npos : end - at);
            }
            pending = std::move(heading);
            ++headings;
        }
    }
    if (!summary.empty()) out += "\n  SUMMARY: " + summary;
    return out;
}

bool runtime_failed(std::string_view stderr_text) {
    return stderr_text.find("FATAL: ThreadSanitizer") != std::string_view::npos;
}

}  // namespace races

namespace {

// The program to run: the --tsan build, else the graded program when it is
// a ThreadSanitizer build itself; skips the check when there is none.
std::string tsan_program(Context& ctx) {
    std::string program = races::tsan_build();
    if (program.empty() && built_with_thread_sanitizer(ctx.program())) program = ctx.program();
    if (program.empty()) {
        skip(
            "no ThreadSanitizer build of the server was given (csd-grade --tsan PROGRAM; "
            "`./csd grade LAB` builds one and passes it), so data races were not looked for");
    }
    if (!built_with_thread_sanitizer(program)) {
        skip(
            fmt::format("{} (given with --tsan) is not a ThreadSanitizer build "
                        "(-fsanitize=thread): data races were not looked for",
                        program));
    }
    return program;
}

// What the threads of the server do at once while the grader watches:
// eight clients with five pipelined requests each (replies of 1 byte to
// 64 KiB, read in turn while the others wait, each closed once read), twenty short connections
// one after another (threads that start, end and are joined or reused),
// then three idle clients (one with half a request) and SIGTERM. Returns
// the most threads the server ran at once while the eight were served
// (its csd-signals thread left out).
std::size_t drive(Context& ctx, Server& server) {
    const std::uint64_t sizes[] = {4000, 1, 65536, 12, 4000};
    std::string requests;
    for (const std::uint64_t n : sizes) requests += request_line(n);
    const Deadline overall(30s);
    std::vector<Connection> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(Connection::open(server.port(), overall.within(5s)));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        clients[i].send_all(requests, overall.within(5s),
                            fmt::format("client {}'s five requests", i + 1));
    }
    std::size_t most_threads = 0;
    for (int look = 0; look < 5; ++look) {
        std::size_t n = 0;
        for (const pid_t tid : procfs::thread_ids(server.pid())) {
            if (procfs::thread_name(server.pid(), tid) != "csd-signals") ++n;
        }
        most_threads = std::max(most_threads, n);
        std::this_thread::sleep_for(scaled(20ms));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        // Each closed once read: a server that serves one client at a
        // time gets to the next one (and fails for its threads below).
        Connection client = std::move(clients[i]);
        for (const std::uint64_t n : sizes) {
            expect_reply(ctx.reply(), client, n, overall,
                         fmt::format("client {}, request {}", i + 1, n));
        }
    }
    clients.clear();
    for (int i = 0; i < 20; ++i) {
        fetch(ctx.reply(), server.port(), 100, overall.within(5s),
              fmt::format("short connection {} of 20", i + 1));
    }
    std::vector<Connection> idle;
    for (int i = 0; i < 3; ++i) idle.push_back(Connection::open(server.port(), overall.within(5s)));
    idle.back().send_all("40", overall.within(5s), "half a request");
    std::this_thread::sleep_for(scaled(300ms));
    ::kill(server.pid(), SIGTERM);
    (void)wait_child(server.pid(), Deadline(10s));
    return most_threads;
}

const std::string races_hint =
    "a value that one thread writes while another reads or writes it needs a lock or an atomic "
    "(the stop flag a std::atomic<bool>, the queue and its count under their mutex); join every "
    "thread you start. Build with `cmake --preset tsan` and run your server from build-tsan/bin "
    "to see the whole report: it names both accesses and their threads";

// One run of the ThreadSanitizer build @p program with @p args (@p label:
// "" for the default mode, else "with -m lock: "), judged.
void run_mode(Context& ctx, const std::string& program, const std::vector<std::string>& args,
              const std::string& label) {
    Server server(program);
    const Readiness ready = server.start(20s, args);
    if (!ready.accepting) {
        const std::string err = server.stderr_text();
        if (races::runtime_failed(err)) {
            skip("ThreadSanitizer cannot run here: " + server.stderr_tail(2));
        }
        if (const std::string report = races::first_report(err); !report.empty()) {
            fail(label + "the ThreadSanitizer build of the server, at its start: " + report,
                 races_hint);
        }
        fail(fmt::format("{}the ThreadSanitizer build of the server ({}) did not start: {}", label,
                         program, ready.problem));
    }
    ctx.log("races: `{}` as pid {}", server.command_line(), server.pid());
    std::size_t threads = 0;
    try {
        threads = drive(ctx, server);
    } catch (const CheckFailed&) {
        // A report may be why (halt_on_error ends the server at the first).
        (void)wait_child(server.pid(), Deadline(2s));
        if (const std::string report = races::first_report(server.stderr_text()); !report.empty()) {
            fail(label + "under load, " + report, races_hint);
        }
        throw;
    }
    const std::string err = server.stderr_text();
    if (const std::string report = races::first_report(err); !report.empty()) {
        fail(fmt::format("{}eight concurrent pipelined clients, twenty short connections, three "
                         "idle clients, then SIGTERM: {}",
                         label, report),
             races_hint);
    }
    // Main, ThreadSanitizer's background thread and at least two of the
    // server's own: with fewer, nothing ran at once, so nothing could race.
    if (threads < 4) {
        fail(fmt::format("{}no ThreadSanitizer report, but while eight clients were served the "
                         "server ran at most {} thread{} (ThreadSanitizer's own included): "
                         "nothing of it ran at once, so nothing could race",
                         label, threads, threads == 1 ? "" : "s"),
             "serve the clients in the lab's threads (see check architecture): this check "
             "judges what those threads share");
    }
    ctx.log("races: {}no ThreadSanitizer report ({} bytes of stderr, up to {} threads)", label,
            err.size(), threads);
}

// races: a ThreadSanitizer build of the server reports nothing, in each
// mode of the lab (a mode's own code, a lock or a queue, races too).
void check_races(Context& ctx) {
    const std::string program = tsan_program(ctx);
    // One server at a time: the graded one stops (the runner starts it
    // again for the next check).
    ctx.server().stop();
    const auto& modes = ctx.lab().modes;
    if (modes.empty()) {
        run_mode(ctx, program, ctx.start_args("races"), "");
        return;
    }
    for (std::size_t i = 0; i < modes.size(); ++i) {
        auto args = ctx.start_args("races");  // -n, the default mode's flags: none
        std::string flags;
        if (i > 0) {
            for (const auto a : modes[i].args) {
                args.emplace_back(a);
                flags += (flags.empty() ? "" : " ") + std::string(a);
            }
        }
        run_mode(ctx, program, args, i == 0 ? std::string() : "with " + flags + ": ");
    }
}

}  // namespace

CSD_CHECK(races) {
    return {"races",
            10,
            check_races,
            "a ThreadSanitizer build of the server (csd-grade --tsan; ./csd grade builds it), "
            "in each mode, serves concurrent pipelined clients, short connections and idle "
            "ones, then stops on SIGTERM, and reports no data race, unjoined thread or lock-order "
            "inversion "
            "(skipped, not scored, without such a build)",
            "a value that one thread writes while another reads or writes it needs a lock or an "
            "atomic; join every thread you start",
            {"cpu"},
            Lifecycle::ends_server};
}

}  // namespace csd::grade
