#pragma once
/// @file strace_text.hpp
/// @brief Reading the output of strace: how many bytes each system call
/// moved (the zero-copy check). Pure; any thread.

#include <cstdint>
#include <map>
#include <string>

namespace csd::grade {

/// The bytes returned per system call name in the strace output @p text,
/// successful calls only. Understands the lines of `strace -f`:
/// "name(args) = N", "PID name(args) = N", "[pid PID] name(args) = N", and
/// a call split in "name(args <unfinished ...>" and
/// "<... name resumed>...) = N" (counted once, on the resumed line).
[[nodiscard]] std::map<std::string, std::uint64_t> strace_bytes_per_call(const std::string& text);

}  // namespace csd::grade
