#pragma once
/// @file rst_common.hpp
/// @brief What the checks of the rst lab (reply, rst, time-wait) share: how
/// the server ended a connection after its one reply. Main thread only.

#include <string>

#include "deadline.hpp"
#include "net.hpp"

namespace csd::grade::rst {

/// The server must end the connection after its reply (RST or FIN), with no
/// extra byte; returns how it ended. Fails (CheckFailed, saying @p what)
/// when more bytes arrive or the connection is still open at @p deadline.
ReadStatus expect_end(Connection& conn, Deadline deadline, const std::string& what);

}  // namespace csd::grade::rst
