// sigterm: SIGTERM ends the whole server tree, exit status 0, within 2 s.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "checks.hpp"
#include "expect.hpp"
#include "process.hpp"
#include "procfs.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// "1234 (name, child of 1200, own session)" for each pid still alive.
std::string describe_left(const std::vector<pid_t>& pids, pid_t server) {
    std::string text;
    for (std::size_t i = 0; i < pids.size() && i < 10; ++i) {
        text += i ? ", " : "";
        const auto st = procfs::read_stat(pids[i]);
        if (!st) {
            text += std::to_string(pids[i]);
            continue;
        }
        text += fmt::format("{} ({}", st->pid, st->comm);
        if (st->pgrp != server) text += ", left the server's process group";
        if (st->session == st->pid) text += ", called setsid()";
        text += ")";
    }
    if (pids.size() > 10) text += fmt::format(" and {} more", pids.size() - 10);
    return text;
}

}  // namespace

void check_sigterm(Context& ctx) {
    // Two idle clients, served once so that a forking server has children now
    // (an iterative server serves only the first one; the second waits).
    std::vector<Connection> idle;
    for (int i = 1; i <= 2; ++i) {
        const std::string what = fmt::format("idle client {} of 2", i);
        idle.push_back(Connection::open(ctx.port(), Deadline(3s)));
        idle.back().send_all(request_line(1), Deadline(3s), what);
        if (i == 1 || ctx.lab().model != Model::single_process) {
            expect_lab_reply(ctx.lab(), idle.back(), 1, Deadline(3s), what);
        }
    }
    std::this_thread::sleep_for(scaled(50ms));
    const pid_t top = ctx.pid();
    const auto tree = procfs::descendants(top);
    ctx.log("SIGTERM to pid {} ({} descendants)", top, tree.size());
    ::kill(top, SIGTERM);

    const Deadline two_seconds(2s);
    std::optional<int> status;
    std::vector<pid_t> left;
    for (;;) {
        status = child_status(top);
        reap_children();
        left = live_descendants_of_grader();
        if ((status && left.empty()) || two_seconds.expired()) break;
        std::this_thread::sleep_for(10ms);
    }
    const std::string with_clients = "with 2 idle clients connected";
    if (!status) {
        fail(fmt::format("the server (pid {}) was still running 2 s after SIGTERM ({})", top,
                         with_clients));
    }
    if (!left.empty()) {
        fail(
            fmt::format("the server {} after SIGTERM, but 2 s later {} of its processes still "
                        "ran: {}",
                        describe_wait_status(*status), left.size(), describe_left(left, top)));
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        fail(fmt::format("the server {} after SIGTERM ({}); expected exit status 0",
                         describe_wait_status(*status), with_clients));
    }
}

}  // namespace csd::grade
