#pragma once
/// @file fd.hpp
/// @brief csd::Fd, the one owner of a file descriptor.

#include <utility>

namespace csd {

/// Owns one file descriptor and closes it when destroyed.
///
/// Move-only: exactly one Fd owns a given descriptor. An Fd may be empty
/// (get() == -1). Any thread may use an Fd, but not two threads at once.
class Fd {
  public:
    /// An empty Fd, owning nothing.
    Fd() noexcept = default;
    /// Takes ownership of @p fd (which may be -1 for "none").
    explicit Fd(int fd) noexcept : fd_(fd) {}
    /// Closes the descriptor, if any.
    ~Fd() { reset(); }

    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    /// Takes the descriptor of @p other, which becomes empty.
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    /// Closes the current descriptor and takes the one of @p other.
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }

    /// The descriptor, or -1 when empty. Ownership stays here.
    [[nodiscard]] int get() const noexcept { return fd_; }
    /// True when a descriptor is owned.
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Same as valid().
    explicit operator bool() const noexcept { return valid(); }

    /// Gives up ownership without closing; returns the descriptor.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the owned descriptor (errors of close(2) are ignored: the
    /// descriptor is gone either way on Linux) and takes @p fd instead.
    void reset(int fd = -1) noexcept;

  private:
    int fd_ = -1;
};

}  // namespace csd
