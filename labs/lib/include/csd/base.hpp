#pragma once
/// @file base.hpp
/// @brief The base of the lab library (csd::lab_base): the core
/// (descriptors, errors, sockets, the command line, limits, the reply bytes
/// of the protocol, core.hpp) and signals (signals.hpp). No request parser,
/// no Session, no serve_connection(): what the iterative lab has you write.

#include "csd/core.hpp"
#include "csd/signals.hpp"
