#include "idle_watch.hpp"

#include <fmt/format.h>

#include <thread>

#include "procfs.hpp"
#include "ring_timers.hpp"
#include "sandbox.hpp"
#include "timing.hpp"
#include "waits.hpp"

namespace csd::grade::idle_watch {

Wakeups snapshot(pid_t root) {
    Wakeups all;
    for (const pid_t pid : procfs::process_tree(root)) {
        for (const pid_t tid : procfs::thread_ids(pid)) {
            if (procfs::is_io_worker(pid, tid)) continue;
            if (procfs::thread_name(pid, tid) == "csd-signals") continue;
            if (const auto n = procfs::task_voluntary_switches(pid, tid)) all[{pid, tid}] = *n;
        }
    }
    return all;
}

std::string sleeping_thread(pid_t root) {
    for (const pid_t pid : procfs::process_tree(root)) {
        for (const pid_t tid : procfs::thread_ids(pid)) {
            if (procfs::is_io_worker(pid, tid)) continue;
            if (procfs::thread_name(pid, tid) == "csd-signals") continue;
            const waits::TaskWait w = waits::wait_of(pid, tid);
            if (waits::is_sleep_call(w.call)) {
                return fmt::format(
                    "thread {} of process {} (\"{}\") sleeps in {} "
                    "(/proc/{}/task/{}/syscall)",
                    tid, pid, procfs::thread_name(pid, tid), w.call, pid, tid);
            }
            if (w.timeout_ms && *w.timeout_ms < min_idle_timeout_ms) {
                return fmt::format(
                    "thread {} of process {} (\"{}\") waits in {} with {} "
                    "(/proc/{}/task/{}/syscall)",
                    tid, pid, procfs::thread_name(pid, tid), w.text(), w.timeout, pid, tid);
            }
        }
        // An io_uring loop's timer is an entry of its ring, not an argument.
        if (const std::string timer = ring_timers::queued_timeout(pid, min_idle_timeout_ms);
            !timer.empty()) {
            return fmt::format("process {} has {}", pid, timer);
        }
    }
    return {};
}

Busiest busiest(const Wakeups& before, const Wakeups& after) {
    Busiest out;
    for (const auto& [task, n] : after) {
        const auto it = before.find(task);
        if (it == before.end() || n < it->second) continue;
        if (n - it->second > out.wakeups || out.tid == 0) {
            out.pid = task.first;
            out.tid = task.second;
            out.wakeups = n - it->second;
        }
    }
    if (out.tid != 0) out.name = procfs::thread_name(out.pid, out.tid);
    return out;
}

std::chrono::milliseconds window_for(std::chrono::milliseconds base, const std::string& program) {
    if (built_with_sanitizer(program)) return base;
    return std::chrono::duration_cast<std::chrono::milliseconds>(scaled(base));
}

Busiest watch(pid_t root, std::chrono::milliseconds window) {
    const auto before = snapshot(root);
    std::this_thread::sleep_for(window);
    return busiest(before, snapshot(root));
}

std::string describe(const Busiest& b, double seconds) {
    return fmt::format(
        "thread {} of process {} (\"{}\") woke up {} times in {:.2f} s (voluntary_ctxt_switches "
        "in /proc/{}/task/{}/status)",
        b.tid, b.pid, b.name, b.wakeups, seconds, b.pid, b.tid);
}

}  // namespace csd::grade::idle_watch
