// Which threads wake up for each request, untraced (request_wakeups.hpp).
#include "request_wakeups.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "procfs.hpp"
#include "timing.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

std::map<pid_t, std::uint64_t> switches_by_thread(pid_t pid) {
    std::map<pid_t, std::uint64_t> all;
    for (const pid_t tid : procfs::thread_ids(pid)) {
        if (procfs::thread_name(pid, tid) == "csd-signals") continue;
        if (const auto n = procfs::task_voluntary_switches(pid, tid)) all[tid] = *n;
    }
    return all;
}

std::map<pid_t, std::uint64_t> switches_growth(const std::map<pid_t, std::uint64_t>& before,
                                               const std::map<pid_t, std::uint64_t>& after) {
    std::map<pid_t, std::uint64_t> out;
    for (const auto& [tid, n] : after) {
        const auto it = before.find(tid);
        if (it != before.end() && n > it->second) out[tid] = n - it->second;
    }
    return out;
}

RequestWakeups request_wakeups(Context& ctx, const std::vector<Connection*>& conns,
                               std::size_t bytes, std::string_view what) {
    RequestWakeups out;
    const Deadline overall(30s);
    std::map<pid_t, std::uint64_t> busy;  // switches while the requests were served
    const auto start = std::chrono::steady_clock::now();
    auto before = switches_by_thread(ctx.pid());
    for (std::size_t k = 0; k < conns.size(); ++k) {
        const std::string label = fmt::format("{} {} of {}", what, k + 1, conns.size());
        conns[k]->send_all(request_line(bytes), overall.within(3s), label);
        expect_reply(ctx.reply(), *conns[k], bytes, overall.within(3s), label);
        // The thread that served it goes back to sleep (and counts a switch).
        std::this_thread::sleep_for(scaled(50ms));
        const auto after = switches_by_thread(ctx.pid());
        std::set<pid_t> these;
        for (const auto& [tid, n] : switches_growth(before, after)) {
            these.insert(tid);
            busy[tid] += n;
        }
        out.woke.push_back(std::move(these));
        before = after;
    }
    if (out.woke.empty()) return out;
    const auto served_for = std::chrono::steady_clock::now() - start;
    // The same threads, idle for twice as long: what each does on its own.
    std::this_thread::sleep_for(2 * served_for);
    const auto idle = switches_growth(before, switches_by_thread(ctx.pid()));

    out.every = woke_for_every_request(out.woke, busy, idle);
    return out;
}

std::set<pid_t> woke_for_every_request(const std::vector<std::set<pid_t>>& woke,
                                       const std::map<pid_t, std::uint64_t>& busy,
                                       const std::map<pid_t, std::uint64_t>& idle_twice) {
    if (woke.empty()) return {};
    std::set<pid_t> every = woke.front();
    for (const auto& w : woke) {
        std::set<pid_t> both;
        for (const pid_t t : w) {
            if (every.contains(t)) both.insert(t);
        }
        every = std::move(both);
    }
    // A thread that serves every request wakes at least once for each; a
    // timer wakes it about half as often in the requests' time as idle.
    const double needed = static_cast<double>(woke.size()) - 1.0;
    std::set<pid_t> out;
    for (const pid_t t : every) {
        const auto b = busy.find(t);
        const auto i = idle_twice.find(t);
        const double served = b == busy.end() ? 0.0 : static_cast<double>(b->second);
        const double on_its_own =
            i == idle_twice.end() ? 0.0 : static_cast<double>(i->second) / 2.0;
        if (served - on_its_own >= needed) out.insert(t);
    }
    return out;
}

std::string threads_text(pid_t pid, const std::set<pid_t>& tids) {
    std::string text;
    for (const pid_t t : tids) {
        text +=
            fmt::format("{}{} (\"{}\")", text.empty() ? "" : ", ", t, procfs::thread_name(pid, t));
    }
    return text;
}

}  // namespace csd::grade
