#pragma once
/// @file served_file.hpp
/// @brief The file a lab that serves a file (sendfile) is started with: random
/// bytes the grader writes into a temporary directory of its own, and removes.

#include <cstdint>
#include <string>

namespace csd::grade {

/// A file of random bytes in a fresh temporary directory (under $TMPDIR,
/// else /tmp), for `SERVER -f PATH`. Owns the file and the directory: the
/// destructor removes both. Move-free; main thread only.
class ServedFile {
  public:
    /// Size of the file: tens of MiB, and on purpose not a multiple of a
    /// page or of 26, so a reply that wraps around its end is checked too.
    static constexpr std::uint64_t default_size = (24u << 20) + 4321;

    /// Writes @p size random bytes; throws std::system_error when it cannot.
    explicit ServedFile(std::uint64_t size = default_size);
    ~ServedFile();
    ServedFile(const ServedFile&) = delete;
    ServedFile& operator=(const ServedFile&) = delete;

    /// Where the file is.
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Everything in it.
    [[nodiscard]] const std::string& bytes() const noexcept { return bytes_; }

  private:
    std::string dir_;
    std::string path_;
    std::string bytes_;
};

}  // namespace csd::grade
