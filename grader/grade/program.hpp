#pragma once
/// @file program.hpp
/// @brief One run of a lab program (a trick of docs/contract.md section 6):
/// started by a check with its own command line, fed on stdin, read on
/// stdout, signalled, waited for, and killed with everything it started.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture.hpp"
#include "csd/fd.hpp"
#include "deadline.hpp"

namespace csd::grade {

/// What ProgramRun::read_line() found.
struct LineResult {
    /// The line without its `\n`; nullopt at EOF (every writer of stdout
    /// closed it) or at the deadline (see eof).
    std::optional<std::string> line = {};
    bool eof = false;  ///< stdout reached EOF (the program ended or closed it).
};

/// One run of PROGRAM ARGS..., confined (spawn_graded()): stdin and
/// stdout pipes to the grader (non-blocking on the grader's side), stderr
/// captured (OutputCapture). Owns the process (killed with everything below it by the
/// destructor or kill()) and the three descriptors. Not copyable nor movable; one thread.
///
/// Under trace_every_run(), each run goes under `strace -f` from its first
/// instruction, with nothing recorded: every system call of the program
/// then stops for the tracer, in every run. A program that behaves one way
/// when it finds a tracer (by TracerPid, or by timing its own system
/// calls) and another way when not has no run where it is not watched.
class ProgramRun {
  public:
    /// Whether a run may go under the tracer of trace_every_run(): no for
    /// a run that a check traces itself (a process has one tracer) or that
    /// is strace.
    enum class Tracer { every_run, none };

    /// From now on, every ProgramRun made with Tracer::every_run runs under
    /// @p strace (its path; empty: none, the default). The runner sets it
    /// for the program labs (LabKind::program) where strace is installed.
    /// The programs then run with ASAN_OPTIONS detect_leaks=0:
    /// LeakSanitizer does not work under ptrace.
    static void trace_every_run(std::string strace);

    /// Starts @p path with @p args; throws std::system_error when it cannot.
    /// With @p ignored_signal (not 0) that signal starts ignored, as a parent
    /// that ignores it leaves it (spawn_graded(); SIG_IGN survives strace's
    /// exec too).
    ProgramRun(const std::string& path, const std::vector<std::string>& args,
               int ignored_signal = 0, Tracer tracer = Tracer::every_run);
    /// Kills what is left of the run (kill()).
    ~ProgramRun() { kill(); }
    ProgramRun(ProgramRun&&) = delete;
    ProgramRun& operator=(ProgramRun&&) = delete;
    ProgramRun(const ProgramRun&) = delete;
    ProgramRun& operator=(const ProgramRun&) = delete;

    /// Pid of the program (under the tracer: strace's child, looked up
    /// once, waiting up to 2 s for strace to start it; 0 if it never did).
    [[nodiscard]] pid_t pid() const noexcept;
    /// `PATH ARGS...`, for messages.
    [[nodiscard]] const std::string& command_line() const noexcept { return command_; }

    /// Writes all of @p data to the program's stdin before @p deadline;
    /// false when it could not (the program closed stdin or stopped reading).
    bool write_stdin(std::string_view data, Deadline deadline);
    /// Closes the program's stdin: it reads EOF.
    void close_stdin() { in_.reset(); }

    /// The next complete line of stdout, waiting up to @p deadline.
    LineResult read_line(Deadline deadline);
    /// Everything read from stdout so far (complete lines and the rest).
    [[nodiscard]] const std::string& output() const noexcept { return seen_; }

    /// Sends @p sig to the program.
    void signal(int sig) const;
    /// The program's wait status once it ended before @p deadline, else nullopt.
    std::optional<int> wait(Deadline deadline);
    /// "exited with status 1", "is still running" and the tail of stderr, for messages.
    [[nodiscard]] std::string describe();

    /// Kills the program and everything it started (SIGTERM, a short
    /// grace, SIGKILL), reaps them. Idempotent.
    void kill();

  private:
    // Reads what stdout holds now into buffer_/seen_; false at EOF.
    bool fill();

    pid_t pid_ = 0;              // what was spawned: the program, or strace
    bool traced_ = false;        // pid_ is strace, the program its child
    mutable pid_t program_ = 0;  // the program's pid once known
    std::string command_;
    csd::Fd in_;   // write end of the program's stdin
    csd::Fd out_;  // read end of the program's stdout
    // The program's stderr.
    std::unique_ptr<OutputCapture> err_;
    std::string buffer_;  // stdout not yet returned as a line
    std::string seen_;    // all stdout so far
    bool eof_ = false;
    bool killed_ = false;
    std::optional<int> status_;
};

}  // namespace csd::grade
