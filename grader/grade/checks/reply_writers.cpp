// Which thread writes each held connection's reply, untraced
// (reply_writers.hpp).
#include "reply_writers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "checks.hpp"
#include "expect.hpp"
#include "models.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

std::optional<std::string> reply_writers_problem(const std::vector<int>& conn_fds,
                                                 const std::vector<waits::TaskWait>& waits) {
    std::map<int, std::vector<pid_t>> writers;  // socket -> the threads waiting to write to it
    std::size_t rings = 0;
    for (const auto& w : waits) {
        if (w.call == "io_uring_enter") {
            ++rings;
            continue;
        }
        std::vector<int> mine;
        for (const int fd : conn_fds) {
            if (!std::binary_search(w.write_fds.begin(), w.write_fds.end(), fd)) continue;
            mine.push_back(fd);
            writers[fd].push_back(w.tid);
        }
        if (mine.size() >= 2) {
            return fmt::format(
                "thread {} waits to write to {} of those sockets ({}): one thread writes the "
                "replies of several clients",
                w.tid, mine.size(), w.text());
        }
    }
    std::vector<int> none;
    for (const int fd : conn_fds) {
        const auto it = writers.find(fd);
        if (it == writers.end()) {
            none.push_back(fd);
        } else if (it->second.size() >= 2) {
            return fmt::format(
                "threads {} all wait to write to fd {}: one of them writes the reply, the "
                "others only wait beside it",
                fmt::join(it->second, ", "), fd);
        }
    }
    if (none.size() > rings) {
        return fmt::format(
            "no thread waits to write to {} of those sockets (fd{} {}): their "
            "replies wait for a thread that serves another client",
            none.size(), none.size() == 1 ? "" : "s", fmt::join(none, ", "));
    }
    return std::nullopt;
}

void require_reply_writers(Context& ctx, std::vector<Connection>& held, const std::string& hint) {
    constexpr std::uint64_t owed = 16 << 20;  // more than any socket buffer holds
    std::vector<int> fds;
    for (const auto& c : held) {
        const auto fd = waits::connection_fd(ctx.pid(), ctx.port(), c.local_port());
        if (!fd) {
            ctx.require_running("held connections, before one more request");
            fail(fmt::format("connection with local port {} is not among the descriptors of the "
                             "server (pid {})",
                             c.local_port(), ctx.pid()),
                 hint);
        }
        fds.push_back(*fd);
    }
    const Deadline overall(30s);
    for (auto& c : held) c.send_all(request_line(owed), overall.within(3s), "a 16 MiB request");
    // Until the rule holds (a thread may still be running, between two
    // writes), or 2 s: a thread that serves another client never comes.
    std::vector<waits::TaskWait> seen;
    bool readable = true;
    std::optional<std::string> verdict;
    (void)poll_until(2000ms, [&] {
        seen.clear();
        for (const pid_t tid : procfs::thread_ids(ctx.pid())) {
            seen.push_back(waits::wait_of(ctx.pid(), tid));
            if (!seen.back().readable) readable = false;
        }
        verdict = readable ? reply_writers_problem(fds, seen) : std::nullopt;
        return !readable || !verdict;
    });
    if (!readable) {
        ctx.log(
            "which thread writes each reply not checked: /proc/TID/syscall is not readable "
            "here");
    }
    ctx.log("{} held connections owed 16 MiB each, unread: {}", held.size(),
            waits::list_text(seen, false));
    if (verdict) {
        ctx.require_running("held connections owed 16 MiB each");
        fail(fmt::format("{} connections held open, each owed a 16 MiB reply that the grader "
                         "does not read yet: {}; the server's threads: {}",
                         held.size(), *verdict, waits::list_text(seen, false)),
             hint);
    }
    for (std::size_t k = 0; k < held.size(); ++k) {
        expect_reply(ctx.reply(), held[k], owed, overall.within(10s),
                     fmt::format("the 16 MiB reply on held connection {}", k + 1));
    }
}

}  // namespace csd::grade
