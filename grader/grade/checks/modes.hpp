#pragma once
/// @file modes.hpp
/// @brief What the modes check (checks/modes.cpp) expects to see of each
/// mode of a server, for the tests. Pure; any thread.

#include <string_view>

#include "registry.hpp"

namespace csd::grade::modes {

/// What the modes check looks for in mode @p mode of a server of design
/// @p model, one sentence for messages and the handouts; empty when it
/// knows no evidence for that mode (then it cannot grade that lab).
[[nodiscard]] std::string_view evidence(Model model, std::string_view mode);

/// True when, in mode @p mode of a server of design @p model, every idle
/// worker wakes for each connection (the thundering herd: prefork's select
/// and epoll), so that its report's useless wakeups can be counted.
[[nodiscard]] bool wakes_every_worker(Model model, std::string_view mode);

}  // namespace csd::grade::modes
