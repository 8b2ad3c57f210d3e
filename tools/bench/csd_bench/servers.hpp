#pragma once
/// @file servers.hpp
/// @brief The servers csd-bench measures: the labs in each mode of their
/// flag (the one table of modes), student builds and NAME=COMMAND externals.

#include <string>
#include <string_view>
#include <vector>

namespace csd::bench {

/// One server to bench, as it will be started. Plain data.
struct BenchServer {
    std::string name;                 ///< Row name: "epoll", "prefork:lock", "minimal-fork".
    std::string lab;                  ///< Lab id ("" for an external).
    std::vector<std::string> argv;    ///< Command line; may hold {host}, {port}, {alphabet}.
    bool count_only = false;          ///< The client counts reply bytes, content not checked.
    bool needs_address_args = false;  ///< Append `-i HOST -p PORT` (no {host}/{port} in argv).
};

/// One mode a lab is benched in: one line of lab_modes().
struct LabMode {
    std::string_view lab;                     ///< Lab id.
    std::string_view mode;                    ///< Appended to the name ("lab:mode"); "" for none.
    std::vector<std::string_view> args = {};  ///< Server flags after `-i HOST -p PORT`.
    bool count_only = false;                  ///< Replies outside section 1 (rst, cork).
};

/// The modes of every lab, from the lab manifest (labs/labs.txt: `mode`,
/// `bench-mode`, `bench-args`, `bench-count-only`). A lab without a line is
/// benched once with its defaults. A line of a lab that is not a ready lab
/// server of this tree is never used.
[[nodiscard]] const std::vector<LabMode>& lab_modes();

/// The benchable labs: ready lab servers (the grader's LabKind::server),
/// in course order.
[[nodiscard]] std::vector<std::string> server_labs();

/// The servers of @p labs (ids; each must be in server_labs()), each in
/// every mode of lab_modes(), as `BIN_DIR/solution-LAB` (and, with
/// @p student, also `BIN_DIR/skeleton-LAB`, named "LAB (yours)").
/// Throws std::invalid_argument naming an unknown lab.
[[nodiscard]] std::vector<BenchServer> lab_servers(const std::vector<std::string>& labs,
                                                   const std::string& bin_dir, bool student);

/// An external server from `NAME=COMMAND` (COMMAND split on blanks, no
/// shell). Without {host} or {port} in COMMAND, `-i HOST -p PORT` is
/// appended. With @p count_only the client only counts its reply bytes.
/// Throws std::invalid_argument on a malformed spec.
[[nodiscard]] BenchServer external_server(std::string_view spec, bool count_only);

/// How @p server is run, for the record (JSON): its argv with `-i {host}
/// -p {port}` appended when csd-bench appends them, and a lab server's
/// program as its file name only (solution-LAB), not its path.
[[nodiscard]] std::vector<std::string> command_template(const BenchServer& server);

/// @p argv with {host}, {port} and {alphabet} replaced, and `-i HOST -p
/// PORT` appended when @p server asks for it.
[[nodiscard]] std::vector<std::string> command_line(const BenchServer& server,
                                                    const std::string& host, int port,
                                                    const std::string& alphabet_file);

}  // namespace csd::bench
