#pragma once
/// @file strace_text.hpp
/// @brief Reading the output of strace (trace.hpp): one parser for its lines
/// (parse_strace()), and what the checks want from them: how many bytes
/// each system call moved (zero-copy), which output calls a server made
/// (cork). Pure; any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::grade {

/// One system call in strace's output, as parse_strace() reads it.
struct StraceCall {
    /// The thread that made it: N of a "[pid N] " prefix (strace -f with
    /// several threads traced) or of a leading "N " (strace -f -o FILE);
    /// 0 when the line had no prefix.
    int pid = 0;
    /// The call's name ("sendfile").
    std::string name;
    /// The argument text between the parentheses, as strace printed it:
    /// "5, 6, NULL, 65536", with -y decorations ("5<TCP:[...]>") kept. For
    /// a call split in "<unfinished ...>" and "<... name resumed>" lines,
    /// both halves joined; when one half is missing, only the other.
    std::string args;
    /// The text after "= ": "65536", "-1 EAGAIN (Resource temporarily
    /// unavailable)", "? ERESTARTSYS (...)"; "" when it never returned.
    std::string result;
    /// The return value when it is a number (decimal, 0x hex, 0 octal).
    std::optional<long long> value;
    /// The error name of a failed or interrupted call ("EAGAIN",
    /// "ERESTARTSYS"); "" otherwise.
    std::string error;
    /// False for a "<... name resumed>" line whose "<unfinished ...>" start
    /// was not in the text: args holds only the end of the arguments.
    bool entered = true;
    /// False for a call whose end is not in the text: "<unfinished ...>"
    /// never resumed, or "<detached ...>" (strace left while it ran).
    bool returned = true;

    /// True when the call returned a number that is not an error (>= 0).
    [[nodiscard]] bool succeeded() const noexcept;

    /// The top-level arguments, split at the commas outside strings,
    /// brackets and -y decorations: {"5<TCP:[...]>", "6</tmp/f>", "NULL",
    /// "65536"}. Views into args.
    [[nodiscard]] std::vector<std::string_view> arguments() const;

    /// The first argument as a descriptor ("5" or "5<TCP:[...]>" is 5), or
    /// -1 when it is not a number or was not seen (entered false).
    [[nodiscard]] int fd() const;
};

/// The system calls in the strace output @p text, in the order they
/// started. Understands the lines of `strace -f`, with or without -y:
/// "name(args) = N", padded "name(args)     = N", "[pid N] " and "N "
/// prefixes, results "-1 ERRNO (text)" and "? ...", and a call split in
/// "name(args <unfinished ...>" and "<... name resumed>args) = N" lines,
/// joined per thread (one call). Other lines ("+++ exited with 0 +++",
/// "--- SIGCHLD {...} ---", "strace: ...") are left out.
[[nodiscard]] std::vector<StraceCall> parse_strace(std::string_view text);

/// The bytes returned per system call name in the strace output @p text,
/// successful calls only (parse_strace(); a split call counts once).
[[nodiscard]] std::map<std::string, std::uint64_t> strace_bytes_per_call(const std::string& text);

/// True for the names of the output calls parse_output_calls() reads:
/// write, writev, send, sendto, sendmsg.
[[nodiscard]] bool is_output_call(std::string_view name);

/// One output call in an strace text that succeeded.
struct OutputCall {
    std::string name;      ///< "write", "writev", "send", "sendto" or "sendmsg"
    int fd = -1;           ///< the descriptor it wrote to, -1 when strace did not show it
    long long result = 0;  ///< its return value: the bytes it wrote
};

/// The output calls (write, writev, send, sendto, sendmsg) in the strace
/// output @p text that succeeded, in order, with their descriptor and
/// result (parse_strace(); a call split by another thread counts once);
/// failed calls are left out.
[[nodiscard]] std::vector<OutputCall> parse_output_calls(const std::string& text);

}  // namespace csd::grade
