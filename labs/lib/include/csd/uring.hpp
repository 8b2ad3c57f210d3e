#pragma once
/// @file uring.hpp
/// @brief io_uring through liburing: the ring (csd::Ring) and a ring of
/// provided buffers (csd::BufferRing), each owned by one RAII object, and
/// the probe that says whether io_uring can be used here at all.
///
/// Built only when liburing (Debian liburing-dev) is found: the target
/// csd::lab_uring (labs/lib/CMakeLists.txt). Failed calls throw
/// std::system_error naming the call, like the rest of the library
/// (liburing returns -errno instead of setting errno).

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace csd {

/// Why io_uring cannot be used by this process, or "" when it can: sets up
/// a ring of 2 entries and tears it down again. io_uring may be compiled
/// out of the kernel, disabled by the sysctl kernel.io_uring_disabled, or
/// forbidden by a seccomp filter (many container runtimes): each shows up
/// here as the error io_uring_queue_init() returned, explained.
[[nodiscard]] std::string io_uring_unavailable();

/// Throws std::system_error for the negative error number @p result that a
/// liburing call returned, naming @p call; returns @p result when it is
/// not negative.
int check_uring(int result, const char* call);

/// Owns one io_uring instance: its descriptor (anon_inode:[io_uring], made
/// CLOEXEC by the kernel) and the memory mappings of its submission and
/// completion queues, set up by io_uring_queue_init() and torn down by
/// io_uring_queue_exit() (which also cancels the requests still in flight).
///
/// Move-only; the io_uring structure lives on the heap, so get() stays
/// the same pointer when a Ring is moved. Thread rule: one thread at a time
/// (liburing does not lock the queues); a server gives each thread a ring
/// of its own rather than sharing one.
class Ring {
  public:
    /// A ring with room for @p entries submissions (rounded up to a power of
    /// two by the kernel) and twice as many completions; @p flags are
    /// IORING_SETUP_* flags. Throws std::system_error("io_uring_queue_init").
    explicit Ring(unsigned entries, unsigned flags = 0);
    /// Tears the ring down (io_uring_queue_exit), if it still owns one.
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    /// Takes the ring of @p other, which then owns none.
    Ring(Ring&& other) noexcept = default;
    /// Tears down the current ring and takes the one of @p other.
    Ring& operator=(Ring&& other) noexcept;

    /// The liburing structure, for the io_uring_* calls; nullptr once moved from.
    [[nodiscard]] io_uring* get() const noexcept { return ring_.get(); }
    /// The ring's descriptor, or -1 once moved from.
    [[nodiscard]] int fd() const noexcept { return ring_ ? ring_->ring_fd : -1; }

    /// A free submission queue entry to fill in. When the queue is full,
    /// submits what it holds first (io_uring_submit) to make room.
    [[nodiscard]] io_uring_sqe& next_sqe();
    /// Submits what the queue holds and waits until at least one completion
    /// is there (io_uring_submit_and_wait: one io_uring_enter call). Returns
    /// false when a signal interrupted the wait (EINTR), true otherwise.
    bool submit_and_wait();

  private:
    std::unique_ptr<io_uring> ring_;
};

/// Owns a ring of provided buffers registered with a Ring under a buffer
/// group id: @p count buffers of @p size bytes each. A request made with
/// IOSQE_BUFFER_SELECT and that group id (a recv) takes a buffer only when
/// its data arrives; the completion says which (IORING_CQE_F_BUFFER, the
/// id in the upper 16 bits of its flags, see buffer_id()); give it back
/// with give_back() once its bytes were used.
///
/// Owns the buffers' memory and the shared ring memory (mmap), and the
/// registration (io_uring_register_buf_ring, undone when destroyed). Must
/// be destroyed before its Ring. Move-only. Thread rule: the thread that
/// uses its Ring.
class BufferRing {
  public:
    /// Registers @p count buffers (a power of two, at most 32768) of
    /// @p size bytes under group @p group with @p ring. Throws
    /// std::invalid_argument for a bad count, std::system_error when a call
    /// fails (io_uring_register_buf_ring needs Linux 5.19).
    BufferRing(Ring& ring, std::uint16_t group, unsigned count, std::size_t size);
    /// Unregisters the group and frees the memory.
    ~BufferRing();
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;
    /// Takes the registration and memory of @p other, which then owns none.
    BufferRing(BufferRing&& other) noexcept;
    BufferRing& operator=(BufferRing&&) = delete;

    /// The buffer group id requests name (sqe->buf_group).
    [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
    /// Bytes per buffer.
    [[nodiscard]] std::size_t buffer_size() const noexcept { return size_; }
    /// The first @p length bytes of buffer @p id (from buffer_id()).
    [[nodiscard]] std::string_view bytes(unsigned id, std::size_t length) const noexcept;
    /// Hands buffer @p id back to the kernel, for another request to fill.
    void give_back(unsigned id) noexcept;

    /// The buffer a completion used, from its @p cqe_flags: the id, or -1
    /// when the completion carries no buffer (IORING_CQE_F_BUFFER not set).
    [[nodiscard]] static int buffer_id(std::uint32_t cqe_flags) noexcept;

  private:
    io_uring* ring_ = nullptr;
    io_uring_buf_ring* shared_ = nullptr;  // mmap'd, shared with the kernel
    std::size_t shared_bytes_ = 0;
    std::unique_ptr<char[]> memory_;  // count_ buffers of size_ bytes
    std::uint16_t group_ = 0;
    unsigned count_ = 0;
    std::size_t size_ = 0;
};

}  // namespace csd
