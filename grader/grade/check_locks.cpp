#include "check_locks.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>

#include "csd/error.hpp"
#include "registry.hpp"

namespace csd::grade {
namespace {

// Set once by the main thread before checks start.
std::string& lock_dir() {
    static std::string dir;
    return dir;
}

}  // namespace

std::vector<std::string_view> check_locks(std::string_view check_id) {
    std::vector<std::string_view> locks;
    if (const CheckInfo* check = find_check(check_id)) locks = check->locks;
    std::sort(locks.begin(), locks.end());
    return locks;
}

void set_lock_dir(std::string dir) {
    lock_dir() = std::move(dir);
}

CheckLockGuard::CheckLockGuard(std::string_view check_id) {
    if (lock_dir().empty()) return;
    for (const auto lock : check_locks(check_id)) {
        const std::string path = lock_dir() + "/" + std::string(lock) + ".lock";
        csd::Fd fd(csd::check(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644), "open"));
        while (::flock(fd.get(), LOCK_EX) != 0) {
            if (errno != EINTR) csd::check(-1, "flock");
        }
        held_.push_back(std::move(fd));
    }
}

}  // namespace csd::grade
