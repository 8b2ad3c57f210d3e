#pragma once
/// @file options.hpp
/// @brief The csd-client command line (docs/contract.md section 3, plus --concurrent).

#include <cstdint>
#include <string>

namespace csd::client {

/// What csd-client was asked to do.
struct ClientOptions {
    std::string host = "127.0.0.1";  ///< -i: server address.
    std::uint16_t port = 2000;       ///< -p: server port.
    int children = 1;                ///< -c: processes forked.
    std::uint64_t connections = 1;   ///< -t: connections per child (rounds with --concurrent).
    std::uint64_t bytes = 4000;      ///< -b: bytes asked for in each request.
    std::uint64_t concurrent =
        0;  ///< --concurrent: connections open at once per child; 0 = one at a time.
    double timeout_s = 10.0;  ///< --timeout: deadline of each connection, in seconds.
    bool quiet = false;       ///< -q: no summary.
    bool count_only = false;  ///< --count-only: count reply bytes, do not check them.

    /// Connections one child opens in all.
    [[nodiscard]] std::uint64_t per_child() const noexcept {
        return concurrent == 0 ? connections : connections * concurrent;
    }
};

/// Parses the command line. On -h prints the help and exits with 0; on
/// a usage error prints a message to stderr and exits with 2.
[[nodiscard]] ClientOptions parse_client_options(int argc, char** argv);

}  // namespace csd::client
