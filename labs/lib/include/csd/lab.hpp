#pragma once
/// @file lab.hpp
/// @brief Everything a lab server includes: the whole lab library.

#include "csd/error.hpp"
#include "csd/fd.hpp"
#include "csd/limits.hpp"
#include "csd/net.hpp"
#include "csd/options.hpp"
#include "csd/protocol.hpp"
#include "csd/pump.hpp"
#include "csd/serve.hpp"
#include "csd/signals.hpp"
