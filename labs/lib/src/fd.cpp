#include "csd/fd.hpp"

#include <unistd.h>

namespace csd {

void Fd::reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);  // Linux frees the descriptor even on EINTR: never retry.
    fd_ = fd;
}

}  // namespace csd
