#pragma once
/// @file registry.hpp
/// @brief The one table of labs and the one table of checks.
///
/// The labs, their titles, order, status, kind, -n and modes come from the
/// lab manifest labs/labs.txt (the generated course_labs.hpp); registry.cpp
/// adds how each ready lab is graded: how its architecture is checked and
/// which checks run in which order. Every check declares itself once here:
/// its points, summary, hint, locks and lifecycle (scoring.hpp adds its
/// points and hints in each lab).
/// Everything here is immutable after first use: any thread.

#include <string>
#include <string_view>
#include <vector>

#include "csd/grade/course_labs.hpp"

namespace csd::grade {

class Context;
/// A check: returns when it passed, throws CheckFailed when it did not.
using CheckFn = void (*)(Context&);

/// How the architecture check recognises a lab's design.
enum class Model {
    single_process,          ///< iterative: one process, one thread, no children.
    process_per_connection,  ///< fork: a new child per connection.
    event_loop,              ///< select/poll/epoll: one process, one thread, many clients.
    process_pool,            ///< prefork: the same N worker processes before and after load.
    thread_per_connection,   ///< thread: a thread per connection, back to the baseline after.
    thread_pool,             ///< prethread: N threads plus the main thread, always the same.
    descriptor_passing,      ///< fdpass: the parent accepts and hands each socket to a worker.
    reactor,                 ///< reactor: N epoll loops, a thread each (and maybe an acceptor).
    /// uring: one process, one server thread (io_uring's own kernel workers
    /// iou-wrk/iou-sqp not counted), an io_uring descriptor and no epoll one.
    io_uring_loop,
    none,  ///< Not gradable yet.
};

/// What the graded executable of a lab is (docs/contract.md section 4).
enum class LabKind {
    /// A lab server: the runner starts it once (`-i 127.0.0.1 -p PORT`),
    /// waits for `Listening on`, restarts it when it dies; every check
    /// talks to that one running server.
    server,
    /// A lab program (a trick of docs/contract.md section 6): the runner
    /// starts nothing; each check runs the program itself, with the command
    /// line the contract defines, as often as it needs (ProgramRun).
    program,
};

/// A mode of a lab's server (labs/labs.txt `mode`): its name, the flags
/// that choose it and the checks that run in it.
using LabMode = CourseMode;

/// What the replies of a lab's server are (docs/contract.md sections 1 and 6).
enum class Reply {
    alphabet,     ///< N bytes of the alphabet (section 1).
    header_line,  ///< The header line "N\n", then N bytes of the alphabet (cork).
    /// N bytes cycling through a file (sendfile): the grader writes a random
    /// file (ServedFile) and starts the server with `-f PATH` first.
    served_file,
};

/// One lab: everything the grader knows about it.
struct LabInfo {
    std::string_view id = {};                       ///< Command-line id: "select".
    std::string_view title = {};                    ///< One line for --list and the report.
    bool available = false;                         ///< False: listed, grading refused.
    Model model = Model::none;                      ///< For the architecture check.
    std::vector<std::string_view> wait_calls = {};  ///< syscall: accepted blocking calls.
    bool needs_eventpoll = false;                   ///< syscall: must hold an epoll descriptor.
    int many_connections = 0;                       ///< many: connections held at once.
    bool fd_setsize_limit = false;                  ///< many: also check the FD_SETSIZE refusal.
    std::vector<std::string_view> checks = {};      ///< Check ids in run order (start first).
    /// The checks with their points in this lab (labs/labs.txt `checks`);
    /// empty for a test-only lab, whose checks are worth their own points.
    std::vector<CourseCheck> scoring = {};
    /// > 0: the server is run with `-n workers` (labs/labs.txt `workers`).
    int workers = 0;
    /// The modes of the server, the default first (labs/labs.txt `mode`):
    /// each check runs in the mode that names it, or in the default, which
    /// the server is started in without a flag.
    std::vector<LabMode> modes = {};
    int thread_cap = 0;  ///< cap: most connection threads at once (docs/contract.md, section 2).
    /// > 0: the most -n allows; more is a usage error (labs/labs.txt `workers-max`).
    int workers_max = 0;
    bool hidden = false;  ///< Test-only (grader/broken): not in --list, not in the course.
    /// What every reply is (the runner makes the checks' ReplyFormat from it).
    Reply reply = Reply::alphabet;
    LabKind kind = LabKind::server;  ///< A server, or a program its checks run themselves.
    /// The lab needs io_uring: where it is unavailable (io_uring_available()),
    /// csd-grade runs no check and says so (exit status 3).
    bool needs_io_uring = false;
    /// Every connection ends with an RST once its reply is acknowledged
    /// (labs/labs.txt `close reset`: the rst lab).
    bool closes_with_reset = false;
};

/// Where a check stands in the life of the server under test.
enum class Lifecycle {
    /// Runs against the running server, which the runner starts (in the
    /// check's mode) before it and keeps for the next check.
    serves,
    /// Runs first, against the server the runner started before any check
    /// (start): it judges that first start.
    first,
    /// Ends the server (sigterm, distribution): the runner starts a new one
    /// for the next check, and a server found dead after it is no surprise.
    ends_server,
};

/// One check.
struct CheckInfo {
    std::string_view id;       ///< Command-line id: "zombies".
    int points = 0;            ///< Points when it passes (all or nothing).
    CheckFn run = nullptr;     ///< The check itself.
    std::string_view summary;  ///< What it verifies, one line, for --list.
    std::string_view hint;     ///< What to do when it fails.
    /// The locks it holds while it runs when graders share a lock directory
    /// (check_locks.hpp): "connections" (thousands of sockets at once),
    /// "cpu" (keeps both cores busy, or measures CPU, wakeups or a short
    /// deadline). Empty: a light check.
    std::vector<std::string_view> locks = {};
    Lifecycle lifecycle = Lifecycle::serves;  ///< When it runs, what it does to the server.
};

/// Every lab, in the order of the course, then the hidden test-only labs.
[[nodiscard]] const std::vector<LabInfo>& labs();
/// Every check declared with CSD_CHECK (check.hpp) in grader/grade/checks/,
/// in no particular order: the build generates it (cmake/CheckTable.cmake).
[[nodiscard]] std::vector<CheckInfo> declared_checks();
/// Every check but the hidden ones (hidden.hpp: hidden_checks()).
[[nodiscard]] const std::vector<CheckInfo>& checks();
/// The lab with id @p id, or nullptr.
[[nodiscard]] const LabInfo* find_lab(std::string_view id);
/// The check with id @p id (hidden checks included), or nullptr.
[[nodiscard]] const CheckInfo* find_check(std::string_view id);
/// The mode check @p check runs in, in @p lab: nullptr for the default mode
/// (or a lab without modes).
[[nodiscard]] const LabMode* check_mode(const LabInfo& lab, std::string_view check);
/// The arguments the server of @p lab gets after `-i HOST -p PORT` for
/// check @p check: `-n workers` when the lab has a pool, then the flags of
/// the check's mode (none for the default mode).
[[nodiscard]] std::vector<std::string> server_args(const LabInfo& lab, std::string_view check);

/// Where the handout of @p lab lives: "labs/LAB/handout.md".
[[nodiscard]] std::string handout_path(const LabInfo& lab);

/// True when the server of @p lab ends every connection with an RST once
/// its reply is acknowledged (labs/labs.txt `close reset`: the rst lab).
[[nodiscard]] bool ends_with_reset(const LabInfo& lab);

/// The checks to run for @p lab.
struct Selection {
    std::vector<const CheckInfo*> checks;  ///< In run order.
    std::string error;                     ///< Not empty: the selection is invalid.
};

/// All checks of @p lab when @p wanted is empty; otherwise "start" and the
/// wanted ones, in the lab's order. An id that is not a check of @p lab is
/// an error naming the lab's checks.
[[nodiscard]] Selection select_checks(const LabInfo& lab, const std::vector<std::string>& wanted);

}  // namespace csd::grade
