#pragma once
/// @file strace_text.hpp
/// @brief Reading the output of strace (trace.hpp): how many bytes each
/// system call moved (zero-copy), which output calls a server made (cork).
/// Pure; any thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace csd::grade {

/// The bytes returned per system call name in the strace output @p text,
/// successful calls only. Understands the lines of `strace -f`:
/// "name(args) = N", "PID name(args) = N", "[pid PID] name(args) = N", and
/// a call split in "name(args <unfinished ...>" and
/// "<... name resumed>...) = N" (counted once, on the resumed line).
[[nodiscard]] std::map<std::string, std::uint64_t> strace_bytes_per_call(const std::string& text);

/// One output call in an strace text that succeeded.
struct OutputCall {
    std::string name;      ///< "write", "writev", "send", "sendto" or "sendmsg"
    int fd = -1;           ///< the descriptor it wrote to
    long long result = 0;  ///< its return value: the bytes it wrote
};

/// The output calls (write, writev, send, sendto, sendmsg) in the strace
/// output @p text, in order, with their descriptor and result; failed calls
/// and calls split by another thread ("<unfinished ...>") are left out.
[[nodiscard]] std::vector<OutputCall> parse_output_calls(const std::string& text);

}  // namespace csd::grade
