#include "server.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "csd/error.hpp"
#include "deadline.hpp"
#include "net.hpp"
#include "process.hpp"
#include "procfs.hpp"
#include "timing.hpp"

namespace csd::grade {
namespace {

using namespace std::chrono_literals;

// True when @p text has the line @p line (a `\r` before the `\n` allowed).
bool has_line(std::string_view text, std::string_view line) {
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) return false;  // not finished (or flushed) yet
        std::string_view l = text.substr(0, nl);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (l == line) return true;
        text.remove_prefix(nl + 1);
    }
    return false;
}

}  // namespace

std::string read_all(int fd) {
    std::string text;
    if (fd < 0) return text;
    char buf[16 * 1024];
    off_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        offset += n;
    }
    return text;
}

std::string tail_lines(std::string_view text, std::size_t lines) {
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (lines == 0) return {};
    std::size_t pos = text.size();
    for (std::size_t i = 0; i < lines; ++i) {
        if (pos == 0) return std::string(text);
        const auto nl = text.rfind('\n', pos - 1);
        if (nl == std::string_view::npos) return std::string(text);
        pos = nl;
    }
    return std::string(text.substr(pos + 1));
}

Readiness Server::start(std::chrono::milliseconds timeout, const std::vector<std::string>& args) {
    constexpr int max_port_retries = 3;
    args_ = args;
    for (int retries = 0;; ++retries) {
        bool port_taken = false;
        Readiness r = attempt(timeout, port_taken);
        r.port_retries = retries;
        if (!port_taken || retries == max_port_retries) return r;
    }
}

Readiness Server::attempt(std::chrono::milliseconds timeout, bool& port_taken) {
    stop();
    out_ = std::make_unique<OutputCapture>();
    err_ = std::make_unique<OutputCapture>();
    port_ = free_port();
    std::vector<std::string> argv = {path_, "-i", "127.0.0.1", "-p", std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = spawn_graded(argv, -1, out_->write_end(), err_->write_end());
    out_->close_write_end();
    err_->close_write_end();
    ++starts_;

    Readiness r;
    const auto begin = Deadline::Clock::now();
    const Deadline deadline(timeout);
    while (!deadline.expired()) {
        if (!running()) {
            (void)err_->wait_for_eof(100ms);  // its last words, through the pipe
            const std::string err = err_->text();
            port_taken = err.find("Address already in use") != std::string::npos ||
                         err.find("EADDRINUSE") != std::string::npos;
            r.problem = death_report(" before accepting connections");
            return r;
        }
        Connection probe = Connection::begin_open(port_);
        if (probe.finish_connect(deadline.within(250ms)) == 0) {
            r.accepting = true;
            r.seconds = seconds_since(begin);
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    if (!r.accepting) {
        r.problem = fmt::format(
            "nothing accepted connections on 127.0.0.1:{} within {:g} s (the grader started "
            "`{}`)",
            port_, scaled_seconds(timeout), command_line());
        if (const auto tail = stderr_tail(); !tail.empty()) {
            r.problem += "; its stderr ended with:\n" + tail;
        }
        return r;
    }
    // Accepting, but is it the server? Another process may have taken the port in between.
    if (const auto inode = procfs::listening_inode(port_)) {
        if (procfs::socket_holders(procfs::process_tree(pid_), *inode).empty()) {
            port_taken = true;
            r.accepting = false;
            r.problem = fmt::format("port {} was taken by another process", port_);
            return r;
        }
    }
    const std::string expected = fmt::format("Listening on 127.0.0.1:{}", port_);
    const Deadline announce = deadline.within(1s);
    while (!(r.announced = has_line(stdout_text(), expected)) && !announce.expired()) {
        std::this_thread::sleep_for(10ms);
    }
    if (!r.announced) {
        const std::string out = stdout_text();
        r.problem = out.empty() ? fmt::format(
                                      "the server accepts connections but printed nothing on "
                                      "stdout; expected the line \"{}\" (flushed)",
                                      expected)
                                : fmt::format(
                                      "the server accepts connections but its stdout was {} "
                                      "instead of the line \"{}\"",
                                      quote(out, 80), expected);
    }
    return r;
}

std::string Server::command_line() const {
    std::string text = fmt::format("{} -i 127.0.0.1 -p {}", path_, port_);
    for (const auto& a : args_) text += " " + a;
    return text;
}

void Server::stop() {
    if (pid_ == 0) return;
    kill_all_descendants(300ms);
    (void)status();  // reap and record the top process
}

bool Server::running() const {
    return pid_ != 0 && !status();
}

std::optional<int> Server::status() const {
    if (pid_ == 0) return std::nullopt;
    return child_status(pid_);
}

std::string Server::stdout_text() const {
    if (!out_) return {};
    // Once the server ended, its last lines may still be in the pipe.
    if (pid_ != 0 && status()) (void)out_->wait_for_eof(200ms);
    return out_->text();
}

std::string Server::stderr_tail(std::size_t lines) const {
    return err_ ? tail_lines(err_->text(), lines) : std::string();
}

std::string Server::death_report(std::string_view when) const {
    const auto st = status();
    std::string text =
        st ? fmt::format("the server (pid {}) {}{}", pid_, describe_wait_status(*st), when)
           : fmt::format("the server (pid {}) is still running", pid_);
    if (st && err_) (void)err_->wait_for_eof(100ms);
    const std::string tail = stderr_tail();
    if (!tail.empty()) text += "; its stderr ended with:\n" + tail;
    return text;
}

}  // namespace csd::grade
