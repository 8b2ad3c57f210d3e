#pragma once
/// @file server.hpp
/// @brief The server under test: started on a free loopback port in a
/// process group of its own, watched, and stopped with everything it
/// started.

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture.hpp"

namespace csd::grade {

/// What waiting for a freshly started server found.
struct Readiness {
    bool accepting = false;  ///< The port accepted a connection in time.
    bool announced = false;  ///< stdout had the line `Listening on 127.0.0.1:PORT`.
    double seconds = 0;      ///< Seconds until the port accepted.
    std::string problem;     ///< What went wrong, when not both.
    int port_retries = 0;    ///< Starts redone on a new port because another process took it.
};

/// One run of SERVER at a time, confined (spawn_graded()). Owns the
/// server's top process and the captures of its stdout and stderr (their
/// head and tail, OutputCapture). Used from the main thread only.
class Server {
  public:
    /// A server that will run @p path (not started yet).
    explicit Server(std::string path) : path_(std::move(path)) {}
    /// Stops the server (and everything it started).
    ~Server() { stop(); }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Stops a running server, then starts `PATH -i 127.0.0.1 -p PORT ARGS...`
    /// on a new free port and waits up to @p timeout (scaled) until it
    /// accepts, then up to 1 s (scaled) until it announces itself. When the
    /// port was taken by another process in between (the server exits early
    /// with "Address already in use" on stderr, or the listening socket
    /// belongs to a process outside the server) it starts again on another
    /// port, up to 3 times (csd::launch::start_on_free_port(), launch.hpp).
    /// Throws std::system_error if it cannot be spawned.
    Readiness start(std::chrono::milliseconds timeout, const std::vector<std::string>& args = {});

    /// Kills the server's process group and every descendant of the
    /// grader (SIGTERM, a grace period, SIGKILL) and reaps them.
    void stop();

    /// True while the top process has not ended.
    [[nodiscard]] bool running() const;
    /// The top process's wait status once it ended.
    [[nodiscard]] std::optional<int> status() const;
    /// The executable it runs (for a program lab: what the checks run).
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Pid of the top process (0 before start()).
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// The port it was told to listen on.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// The extra arguments of the last start() (after -i and -p).
    [[nodiscard]] const std::vector<std::string>& args() const noexcept { return args_; }
    /// The command line of the last start, for messages: `PATH -i 127.0.0.1 -p PORT ...`.
    [[nodiscard]] std::string command_line() const;
    /// How many times start() was called.
    [[nodiscard]] int starts() const noexcept { return starts_; }
    /// The RLIMIT_NOFILE of the next starts: @p files, or the sandbox's
    /// default with nullopt (sandbox_limits()).
    void limit_open_files(std::optional<rlim_t> files) noexcept { open_files_ = files; }

    /// What the server wrote to stdout (all of it, or its head and tail
    /// around a line `[N bytes cut]`); once the server ended, everything it
    /// wrote (waits up to 200 ms for the pipe to drain).
    [[nodiscard]] std::string stdout_text() const;
    /// What the server wrote to stderr (all of it, or its head and tail
    /// around a line `[N bytes cut]`); once the server ended, everything it
    /// wrote (waits up to 200 ms for the pipe to drain).
    [[nodiscard]] std::string stderr_text() const;
    /// The last @p lines lines the server wrote to stderr.
    [[nodiscard]] std::string stderr_tail(std::size_t lines = 8) const;
    /// "the server (pid N) was killed by signal 13 (SIGPIPE)" + @p when +
    /// the tail of its stderr; for messages once it ended.
    [[nodiscard]] std::string death_report(std::string_view when = {}) const;

  private:
    // Spawns the server (sandboxed, stdout and stderr captured) on @p port, without waiting.
    void spawn_on(std::uint16_t port);

    std::string path_;
    std::vector<std::string> args_;
    pid_t pid_ = 0;
    std::uint16_t port_ = 0;
    int starts_ = 0;
    std::optional<rlim_t> open_files_;    // RLIMIT_NOFILE of the next starts, when not the default
    std::unique_ptr<OutputCapture> out_;  // the server's stdout
    std::unique_ptr<OutputCapture> err_;  // the server's stderr
};

/// The last @p lines lines of @p text (all of it when shorter). Pure.
[[nodiscard]] std::string tail_lines(std::string_view text, std::size_t lines);

/// Everything in the file @p fd refers to (pread from offset 0).
[[nodiscard]] std::string read_all(int fd);

}  // namespace csd::grade
