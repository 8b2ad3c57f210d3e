#include "csd/reply.hpp"

namespace csd {

std::size_t first_mismatch(std::string_view got, std::uint64_t offset) noexcept {
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != reply_byte(offset + i)) return i;
    }
    return got.size();
}

}  // namespace csd
