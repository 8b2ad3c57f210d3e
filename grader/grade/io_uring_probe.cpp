#include "io_uring_probe.hpp"

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace csd::grade {

std::string io_uring_unavailable() {
    if (const char* fake = std::getenv("CSD_NO_IO_URING"); fake != nullptr && *fake != '\0') {
        return "CSD_NO_IO_URING is set (the test of the skip path)";
    }
#ifdef SYS_io_uring_setup
    io_uring_params params{};
    const long fd = ::syscall(SYS_io_uring_setup, 2, &params);
    if (fd >= 0) {
        ::close(static_cast<int>(fd));
        return "";
    }
    const int err = errno;
    std::string why = std::string("io_uring_setup: ") + std::strerror(err);
    if (err == ENOSYS) why += " (the kernel has no io_uring, or a seccomp filter forbids it)";
    if (err == EPERM) {
        why +=
            " (the sysctl kernel.io_uring_disabled, or a seccomp filter of the container, "
            "forbids it)";
    }
    return why;
#else
    return "this architecture has no io_uring_setup system call";
#endif
}

}  // namespace csd::grade
