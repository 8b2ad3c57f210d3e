// Splitting a text into lines (text_lines.hpp).
#include "text_lines.hpp"

#include <algorithm>

namespace csd::grade {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const std::size_t nl = std::min(text.find('\n'), text.size());
        out.push_back(text.substr(0, nl));
        text.remove_prefix(std::min(nl + 1, text.size()));
    }
    return out;
}

}  // namespace csd::grade
