#pragma once
/// @file check.hpp
/// @brief What a check gets to work with.

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "failure.hpp"
#include "registry.hpp"
#include "reply_format.hpp"
#include "server.hpp"

/// Declares a check beside its code, in a file of grader/grade/checks/:
///
///     CSD_CHECK(zombies) { return {.id = "zombies", .points = 5, .run = check_zombies, ...}; }
///
/// The body returns the check's CheckInfo (registry.hpp): its id, own
/// points, function, summary, hint, locks and lifecycle. NAME is the id
/// with '_' for '-'. The build finds every CSD_CHECK(NAME) at the start of a
/// line of grader/grade/checks/*.cpp (cmake/CheckTable.cmake) and lists it
/// in checks(): a new check is its file, nothing to register elsewhere.
#define CSD_CHECK(NAME) ::csd::grade::CheckInfo csd_declare_check_##NAME()

namespace csd::grade {

/// The state shared by the checks of one grading run: the server under
/// test, its lab, and how its first start went. Main thread only.
class Context {
  public:
    /// A context for grading @p server as lab @p lab, whose replies are
    /// in @p reply; @p file_args (`-f PATH`) come first on every command
    /// line of a lab that serves a file.
    Context(Server& server, const LabInfo& lab, ReplyFormat reply, Readiness first_start,
            bool verbose, std::vector<std::string> file_args = {})
        : server_(server),
          lab_(lab),
          reply_(std::move(reply)),
          first_start_(std::move(first_start)),
          verbose_(verbose),
          file_args_(std::move(file_args)) {}

    /// The server under test (restarted by the runner when it died).
    [[nodiscard]] Server& server() noexcept { return server_; }
    /// The lab being graded.
    [[nodiscard]] const LabInfo& lab() const noexcept { return lab_; }
    /// What every reply of the server is: check replies against it.
    [[nodiscard]] const ReplyFormat& reply() const noexcept { return reply_; }
    /// The executable being graded: for a program lab (LabKind::program)
    /// what the checks run themselves.
    [[nodiscard]] const std::string& program() const noexcept { return server_.path(); }
    /// The port of the running server.
    [[nodiscard]] std::uint16_t port() const noexcept { return server_.port(); }
    /// The pid of the server's top process.
    [[nodiscard]] pid_t pid() const noexcept { return server_.pid(); }
    /// How the first start of the server went (for the start check).
    [[nodiscard]] const Readiness& first_start() const noexcept { return first_start_; }
    /// The arguments a check that starts the server again gives it for
    /// @p check's mode: the served file's `-f PATH` if the lab has one,
    /// then server_args() (registry.hpp).
    [[nodiscard]] std::vector<std::string> start_args(std::string_view check) const {
        std::vector<std::string> all = file_args_;
        const auto rest = server_args(lab_, check);
        all.insert(all.end(), rest.begin(), rest.end());
        return all;
    }

    /// The path of the file a lab that serves one (sendfile) was started
    /// with (`-f PATH`), empty for the other labs.
    [[nodiscard]] std::string served_file_path() const {
        return file_args_.size() >= 2 && file_args_[0] == "-f" ? file_args_[1] : std::string();
    }

    /// With -v: prints a progress line to stderr.
    template <typename... Args>
    void log(fmt::format_string<Args...> format, Args&&... args) const {
        if (!verbose_) return;
        fmt::print(stderr, "  [grade] {}\n", fmt::format(format, std::forward<Args>(args)...));
    }

    /// Throws CheckFailed with the server's death report when its top
    /// process has ended; @p when says when ("after the resets").
    void require_running(std::string_view when) const {
        if (!server_.running()) fail(fmt::format("{}: {}", when, server_.death_report()));
    }

  private:
    Server& server_;
    const LabInfo& lab_;
    ReplyFormat reply_;
    Readiness first_start_;
    bool verbose_;
    std::vector<std::string> file_args_;
};

}  // namespace csd::grade
