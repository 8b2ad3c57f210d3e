#pragma once
/// @file options.hpp
/// @brief The lab server command line of the contract (docs/contract.md, section 2).

#include <cstdint>
#include <string>

namespace csd {

/// What a lab server was asked to do on its command line.
struct ServerOptions {
    std::string host = "127.0.0.1";  ///< -i: address to bind (loopback by default).
    std::uint16_t port = 2000;       ///< -p: port.
    int workers = 10;                ///< -n: pool size (the pool labs, coming).
};

/// Parses `SERVER [-i HOST] [-p PORT] [-n WORKERS]`.
///
/// With @p with_workers false, -n is refused. On a bad command line
/// prints a usage message to stderr and exits with status 2; on -h prints
/// it to stdout and exits with 0.
ServerOptions parse_server_options(int argc, char** argv, bool with_workers = false);

/// Prints `Listening on HOST:PORT` on stdout and flushes it: the line a
/// grader or a user waits for once the listening socket accepts.
void announce_listening(const std::string& host, std::uint16_t port);

}  // namespace csd
