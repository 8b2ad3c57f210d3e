#include "served_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "csd/error.hpp"
#include "csd/fd.hpp"

namespace csd::grade {

ServedFile::ServedFile(std::uint64_t size) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/csd-grade-file.XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) == nullptr) (void)csd::check(-1, "mkdtemp");
    dir_ = name.data();
    path_ = dir_ + "/served.bin";

    std::mt19937_64 random(std::random_device{}());
    bytes_.resize(static_cast<std::size_t>(size));
    for (std::size_t i = 0; i < bytes_.size(); i += 8) {
        const std::uint64_t r = random();
        for (std::size_t k = 0; k < 8 && i + k < bytes_.size(); ++k) {
            bytes_[i + k] = static_cast<char>((r >> (8 * k)) & 0xff);
        }
    }
    const csd::Fd fd(
        csd::check(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), "open"));
    std::size_t done = 0;
    while (done < bytes_.size()) {
        const ssize_t n = ::write(fd.get(), bytes_.data() + done, bytes_.size() - done);
        if (n < 0) (void)csd::check(-1, "write");
        done += static_cast<std::size_t>(n);
    }
}

ServedFile::~ServedFile() {
    (void)::unlink(path_.c_str());
    (void)::rmdir(dir_.c_str());
}

}  // namespace csd::grade
