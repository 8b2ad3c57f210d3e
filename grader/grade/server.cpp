#include "server.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "csd/error.hpp"
#include "deadline.hpp"
#include "launch.hpp"
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
    stop();
    args_ = args;
    // The port, the wait and the new start on another port when another
    // process took it are launch.hpp's; the sandbox, the captures and how
    // to tell that the port was taken are the grader's.
    launch::ServerHooks hooks;
    hooks.start = [this](std::uint16_t port) { spawn_on(port); };
    hooks.ended = [this] { return !running(); };
    hooks.port_in_use = [this] {
        (void)err_->wait_for_eof(100ms);  // its last words, through the pipe
        return launch::said_address_in_use(err_->text());
    };
    hooks.owns_port = [this](std::uint16_t port) {
        // Accepting, but is it the server? Another process may have taken the port in between.
        const auto inode = procfs::listening_inode(port);
        return !inode || !procfs::socket_holders(procfs::process_tree(pid_), *inode).empty();
    };
    hooks.stop = [this] { stop(); };
    launch::LaunchOptions options;
    options.timeout = scaled(timeout);
    options.not_after = check_end().load();
    options.probe_timeout = scaled(250ms);
    const launch::LaunchResult launched = launch::start_on_free_port(hooks, options);

    Readiness r;
    r.port_retries = launched.port_retries;
    switch (launched.status) {
        case launch::LaunchStatus::ready:
            break;
        case launch::LaunchStatus::ended:
            r.problem = death_report(" before accepting connections");
            return r;
        case launch::LaunchStatus::port_taken:
            r.problem = running() ? fmt::format("port {} was taken by another process", port_)
                                  : death_report(" before accepting connections");
            return r;
        case launch::LaunchStatus::timed_out:
            r.problem = fmt::format(
                "nothing accepted connections on 127.0.0.1:{} within {:g} s (the grader started "
                "`{}`)",
                port_, scaled_seconds(timeout), command_line());
            if (const auto tail = stderr_tail(); !tail.empty()) {
                r.problem += "; its stderr ended with:\n" + tail;
            }
            return r;
    }
    r.accepting = true;
    r.seconds = launched.seconds;
    const std::string expected = fmt::format("Listening on 127.0.0.1:{}", port_);
    const Deadline announce(1s);
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

void Server::spawn_on(std::uint16_t port) {
    out_ = std::make_unique<OutputCapture>();
    err_ = std::make_unique<OutputCapture>();
    port_ = port;
    std::vector<std::string> argv = {path_, "-i", "127.0.0.1", "-p", std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = spawn_graded(argv, -1, out_->write_end(), err_->write_end(), open_files_);
    out_->close_write_end();
    err_->close_write_end();
    ++starts_;
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

std::string Server::stderr_text() const {
    if (!err_) return {};
    if (pid_ != 0 && status()) (void)err_->wait_for_eof(200ms);
    return err_->text();
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
