#pragma once
/// @file lab.hpp
/// @brief The whole lab library: the base (base.hpp), the protocol, serving
/// a blocking connection and pumping a non-blocking one. A lab links only
/// the part it may use (see labs/lib/CMakeLists.txt).

#include "csd/base.hpp"
#include "csd/protocol.hpp"
#include "csd/pump.hpp"
#include "csd/serve.hpp"
