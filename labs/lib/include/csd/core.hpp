#pragma once
/// @file core.hpp
/// @brief The core of the lab library (csd::lab_core): descriptors, errors,
/// sockets, the command line, limits, and the reply bytes of the protocol.
/// No signal handling: what the sigpipe and selfpipe labs have you write
/// (csd::lab_base adds it, signals.hpp).

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/limits.hpp"
#include "csd/net.hpp"
#include "csd/options.hpp"
#include "csd/reply.hpp"
