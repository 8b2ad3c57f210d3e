#include "csd/error.hpp"

#include <netdb.h>
#include <sys/mman.h>

#include <string>

namespace csd {
namespace {

/// getaddrinfo()'s error numbers, described by gai_strerror().
class ResolverCategory final : public std::error_category {
  public:
    [[nodiscard]] const char* name() const noexcept override { return "getaddrinfo"; }
    [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};

}  // namespace

void throw_errno(const char* call) {
    throw std::system_error(errno, std::generic_category(), call);
}

void check_rc(int rc, const char* call) {
    if (rc != 0) throw std::system_error(rc, std::generic_category(), call);
}

void* check_mmap(void* address, const char* call) {
    if (address == MAP_FAILED) throw_errno(call);
    return address;
}

const std::error_category& resolver_category() noexcept {
    static const ResolverCategory category;
    return category;
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
