#include "timing.hpp"

#include <array>
#include <atomic>
#include <charconv>

namespace csd::grade {
namespace {

constexpr double min_scale = 0.1;
constexpr double max_scale = 100;

// Set once by the main thread before checks start, read by any thread.
std::atomic<double> g_scale{1.0};

}  // namespace

double time_scale() noexcept {
    return g_scale.load(std::memory_order_relaxed);
}

bool set_time_scale(double factor) noexcept {
    if (!(factor >= min_scale && factor <= max_scale)) return false;
    g_scale.store(factor, std::memory_order_relaxed);
    return true;
}

std::optional<double> parse_time_scale(std::string_view text) noexcept {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (!(value >= min_scale && value <= max_scale)) return std::nullopt;
    return value;
}

std::string scaled_seconds_arg(double seconds) {
    std::array<char, 32> buf{};
    const double value = seconds * time_scale();
    const auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, 1);
    if (ec != std::errc{}) return std::to_string(value);
    std::string text(buf.data(), end);
    if (text.ends_with(".0")) text.resize(text.size() - 2);
    return text;
}

}  // namespace csd::grade
