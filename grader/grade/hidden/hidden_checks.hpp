#pragma once
/// @file hidden_checks.hpp
/// @brief The hidden checks of this course (instructor-only: the student
/// release leaves grader/grade/hidden/ out). Main thread only, like every check.

#include "check.hpp"

namespace csd::grade {

/// bytes-hidden: exact replies for sizes drawn from a seed of its own
/// (not the public checks' sizes), one per connection, then pipelined.
void check_bytes_hidden(Context& ctx);

}  // namespace csd::grade
