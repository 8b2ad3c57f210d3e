#pragma once
/// @file races.hpp
/// @brief The races check's ThreadSanitizer build of the server (csd-grade
/// --tsan PROGRAM), and what it reads in ThreadSanitizer's reports. Set it
/// from the main thread before grading; the rest is pure, any thread.

#include <string>
#include <string_view>

namespace csd::grade::races {

/// The ThreadSanitizer build of the server under test that the races check
/// runs (csd-grade --tsan PROGRAM); empty: none was given.
void set_tsan_build(std::string path);

/// The path set_tsan_build() was given ("" when none).
[[nodiscard]] const std::string& tsan_build();

/// The first report of ThreadSanitizer in @p stderr_text, in a few lines
/// for a message: its kind ("data race", "thread leak"...), its SUMMARY
/// line, and the top frame of each stack it shows ("Write of size 1 ...
/// by main thread: #0 on_stop server.cpp:80"), with the number of
/// reports; "" when it holds no report (a line `WARNING: ThreadSanitizer:`).
[[nodiscard]] std::string first_report(std::string_view stderr_text);

/// True when @p stderr_text says ThreadSanitizer could not run at all here
/// (a line `FATAL: ThreadSanitizer`, e.g. an address space layout it does
/// not support): not the server's fault.
[[nodiscard]] bool runtime_failed(std::string_view stderr_text);

}  // namespace csd::grade::races
