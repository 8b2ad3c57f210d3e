#include "program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "csd/error.hpp"
#include "process.hpp"
#include "server.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The strace of ProgramRun::trace_every_run(), empty when none.
std::string& every_run_tracer() {
    static std::string path;
    return path;
}

}  // namespace

void ProgramRun::trace_every_run(std::string strace) {
    every_run_tracer() = std::move(strace);
}

pid_t ProgramRun::pid() const noexcept {
    if (!traced_) return pid_;
    if (program_ != 0) return program_;
    // strace forks the program as soon as it starts: its only child.
    const std::string children = fmt::format("/proc/{}/task/{}/children", pid_, pid_);
    for (int i = 0; i < 1000 && program_ == 0; ++i) {
        if (FILE* f = std::fopen(children.c_str(), "r")) {
            int child = 0;
            if (std::fscanf(f, "%d", &child) == 1) program_ = child;
            std::fclose(f);
        }
        if (program_ == 0) ::usleep(2000);
    }
    return program_;
}

ProgramRun::ProgramRun(const std::string& path, const std::vector<std::string>& args,
                       int ignored_signal, Tracer tracer) {
    int in[2];
    int out[2];
    csd::check(::pipe2(in, O_CLOEXEC), "pipe2");
    csd::Fd in_read(in[0]);
    in_ = csd::Fd(in[1]);
    csd::check(::pipe2(out, O_CLOEXEC), "pipe2");
    out_ = csd::Fd(out[0]);
    csd::Fd out_write(out[1]);
    err_ = std::make_unique<OutputCapture>();

    std::vector<std::string> argv;
    const std::string& strace = every_run_tracer();
    traced_ = tracer == Tracer::every_run && !strace.empty();
    if (traced_) {
        // Nothing recorded (-o /dev/null), but every call stops: without
        // --seccomp-bpf, strace stops the program at each one.
        const char* asan = std::getenv("ASAN_OPTIONS");
        argv = {strace,
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                "trace=none",
                "-E",
                fmt::format("ASAN_OPTIONS={}{}detect_leaks=0", asan != nullptr ? asan : "",
                            asan != nullptr && *asan != '\0' ? ":" : ""),
                "--"};
    }
    argv.push_back(path);
    argv.insert(argv.end(), args.begin(), args.end());
    command_ = path;
    for (const auto& a : args) command_ += " " + a;
    pid_ = spawn_graded(argv, in_read.get(), out_write.get(), err_->write_end(), std::nullopt,
                        ignored_signal, path);
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
    if (status_) return;
    if (const pid_t program = pid(); program > 0) (void)::kill(program, sig);
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
