#include "program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "csd/error.hpp"
#include "process.hpp"
#include "server.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

ProgramRun::ProgramRun(const std::string& path, const std::vector<std::string>& args,
                       int ignored_signal) {
    int in[2];
    int out[2];
    csd::check(::pipe2(in, O_CLOEXEC), "pipe2");
    csd::Fd in_read(in[0]);
    in_ = csd::Fd(in[1]);
    csd::check(::pipe2(out, O_CLOEXEC), "pipe2");
    out_ = csd::Fd(out[0]);
    csd::Fd out_write(out[1]);
    err_ = std::make_unique<OutputCapture>();

    std::vector<std::string> argv{path};
    argv.insert(argv.end(), args.begin(), args.end());
    command_ = path;
    for (const auto& a : args) command_ += " " + a;
    pid_ = spawn_graded(argv, in_read.get(), out_write.get(), err_->write_end(), std::nullopt,
                        ignored_signal);
    err_->close_write_end();
    // Only the program holds these ends now: its exit means EOF on out_.
    for (const int fd : {in_.get(), out_.get()}) {
        csd::check(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), "fcntl");
    }
}

bool ProgramRun::write_stdin(std::string_view data, Deadline deadline) {
    while (!data.empty()) {
        if (!in_) return false;
        const ssize_t n = ::write(in_.get(), data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && !csd::would_block(errno)) return false;  // EPIPE: the program is gone
        pollfd p{.fd = in_.get(), .events = POLLOUT, .revents = 0};
        if (deadline.expired() || ::poll(&p, 1, deadline.poll_ms()) == 0) return false;
    }
    return true;
}

bool ProgramRun::fill() {
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::read(out_.get(), chunk, sizeof chunk);
        if (n > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(n));
            seen_.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            eof_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        return true;  // EAGAIN: nothing more now
    }
}

LineResult ProgramRun::read_line(Deadline deadline) {
    for (;;) {
        if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return {.line = std::move(line)};
        }
        const bool open = !eof_ && fill();
        if (buffer_.find('\n') != std::string::npos) continue;
        if (!open) return {.eof = true};
        if (deadline.expired()) return {};
        pollfd p{.fd = out_.get(), .events = POLLIN, .revents = 0};
        (void)::poll(&p, 1, deadline.poll_ms());
    }
}

void ProgramRun::signal(int sig) const {
    if (!status_) (void)::kill(pid_, sig);
}

std::optional<int> ProgramRun::wait(Deadline deadline) {
    if (!status_) status_ = wait_child(pid_, deadline);
    return status_;
}

std::string ProgramRun::describe() {
    (void)wait(Deadline(0ms));
    std::string text = status_ ? describe_wait_status(*status_) : "is still running";
    if (status_) (void)err_->wait_for_eof(100ms);
    const std::string err = tail_lines(err_->text(), 4);
    if (!err.empty()) text += "; its stderr ends with:\n" + err;
    return text;
}

void ProgramRun::kill() {
    if (pid_ == 0 || killed_) return;
    killed_ = true;
    in_.reset();
    if (!status_) status_ = child_status(pid_);
    if (status_) {
        // It ended by itself: only its group may be left (the runner kills
        // every other descendant after the check). No /proc walk: a check
        // runs hundreds of these.
        (void)::kill(-pid_, SIGKILL);
        return;
    }
    kill_tree(pid_, 100ms);
    status_ = child_status(pid_);
}

}  // namespace csd::grade
