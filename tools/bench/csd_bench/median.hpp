#pragma once
/// @file median.hpp
/// @brief The median of repeated measurements. Pure.

#include <vector>

namespace csd::bench {

/// The median of @p values (any order): the middle value, or the mean of
/// the two middle values when their number is even; 0 when empty.
[[nodiscard]] double median(std::vector<double> values);

}  // namespace csd::bench
