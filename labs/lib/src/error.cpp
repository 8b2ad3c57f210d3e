#include "csd/error.hpp"

namespace csd {

void throw_errno(const char* call) {
    throw std::system_error(errno, std::generic_category(), call);
}

bool peer_gone(int err) noexcept {
    switch (err) {
        case EPIPE:
        case ECONNRESET:
        case ETIMEDOUT:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ENETDOWN:
        case ECONNABORTED:
            return true;
        default:
            return false;
    }
}

}  // namespace csd
