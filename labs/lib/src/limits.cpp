#include "csd/limits.hpp"

#include <sys/resource.h>

#include "csd/error.hpp"

namespace csd {

std::uint64_t raise_open_file_limit() {
    rlimit limit{};
    check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit(RLIMIT_NOFILE)");
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        check(::setrlimit(RLIMIT_NOFILE, &limit), "setrlimit(RLIMIT_NOFILE)");
    }
    return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace csd
