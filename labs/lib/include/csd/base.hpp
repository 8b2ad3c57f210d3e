#pragma once
/// @file base.hpp
/// @brief The base of the lab library (csd::lab_base): descriptors,
/// errors, sockets, signals, the command line, limits, and the reply bytes
/// of the protocol. No request parser, no Session, no serve_connection():
/// what the iterative lab has you write.

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/limits.hpp"
#include "csd/net.hpp"
#include "csd/options.hpp"
#include "csd/reply.hpp"
#include "csd/signals.hpp"
