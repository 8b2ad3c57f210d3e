#pragma once
/// @file options.hpp
/// @brief The lab server command line (docs/contract.md): the common
/// options and the flags a lab declares for itself.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace csd {

/// A flag of a lab's own on its command line, shown by -h and checked like
/// the common options.
struct LabFlag {
    char letter = '?';                      ///< The flag is -letter.
    std::string help;                       ///< One line for -h.
    std::string value_name = {};            ///< Empty: a boolean flag; else -letter VALUE_NAME.
    std::vector<std::string> choices = {};  ///< The values -letter accepts (flags with a value).
    std::string default_value = {};         ///< The value when the flag is not given.
    bool any_value = false;  ///< With a value_name and no choices: any non-empty value (a path).
};

/// What a lab's command line takes besides -i HOST and -p PORT.
struct CommandLine {
    bool workers = false;             ///< -n WORKERS: the lab has a pool of workers.
    std::vector<LabFlag> flags = {};  ///< The lab's own flags.
    /// A client program, not a server: -h says that -i and -p name the
    /// server to connect to (sigpipe), not where to listen.
    bool client = false;
};

/// What a lab server was asked to do on its command line.
struct ServerOptions {
    std::string host = "127.0.0.1";           ///< -i: address to bind (loopback by default).
    std::uint16_t port = 2000;                ///< -p: port.
    int workers = 10;                         ///< -n: pool size (labs with a pool only).
    std::string given = {};                   ///< The letters of the lab flags given, in order.
    std::map<char, std::string> values = {};  ///< Lab flags with a value: given or default.

    /// True when the lab flag -@p letter was given.
    [[nodiscard]] bool flag(char letter) const;
    /// The value of the lab flag -@p letter (its default when not given),
    /// "" for a boolean flag or an unknown letter.
    [[nodiscard]] std::string value(char letter) const;
};

/// Parses `SERVER [-i HOST] [-p PORT] [-n WORKERS] [LAB FLAGS]`.
///
/// -n is accepted only with @p line.workers; the lab flags of @p line are
/// listed by -h. On a bad command line (unknown flag, bad number, a value
/// not among a flag's choices) prints a usage message to stderr and exits
/// with status 2; on -h prints it to stdout and exits with 0. A lab flag
/// that reuses -i, -p, -n, -h or another flag's letter, or a valued flag
/// without choices, throws std::logic_error (a bug in the lab).
ServerOptions parse_server_options(int argc, char** argv, const CommandLine& line = {});

/// Prints `Listening on HOST:PORT` on stdout and flushes it: the line a
/// grader or a user waits for once the listening socket accepts.
void announce_listening(const std::string& host, std::uint16_t port);

}  // namespace csd
