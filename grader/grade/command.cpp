#include "command.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <filesystem>

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "deadline.hpp"
#include "process.hpp"
#include "server.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

bool CommandResult::succeeded() const {
    return !timed_out && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    const csd::Fd out(csd::check(::memfd_create("csd-grade-command", MFD_CLOEXEC), "memfd_create"));
    const auto begin = Deadline::Clock::now();
    const pid_t pid = spawn(argv, out.get(), out.get());
    CommandResult r;
    if (const auto st = wait_child(pid, Deadline(timeout))) {
        r.status = *st;
    } else {
        r.timed_out = true;
    }
    if (r.timed_out) {
        kill_tree(pid, 200ms);
    } else {
        ::kill(-pid, SIGKILL);  // helpers it may have left in its group
        reap_children();
    }
    r.seconds = seconds_since(begin);
    r.output = read_all(out.get());
    return r;
}

std::string sibling_program(const std::string& name) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return name;
    return (self.parent_path() / name).string();
}

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) {
        if (!text.empty()) text += ' ';
        text += a;
    }
    return text;
}

}  // namespace csd::grade
