#include "csd/uring.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "csd/error.hpp"

namespace csd {

std::string io_uring_unavailable() {
    io_uring ring{};
    const int rc = ::io_uring_queue_init(2, &ring, 0);
    if (rc == 0) {
        ::io_uring_queue_exit(&ring);
        return "";
    }
    const std::string why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    switch (-rc) {
        case ENOSYS:
            return why + " (the kernel has no io_uring, or a seccomp filter forbids it)";
        case EPERM:
            return why +
                   " (io_uring is disabled: sysctl kernel.io_uring_disabled, or a seccomp "
                   "filter of the container forbids it)";
        case ENOMEM:
            return why + " (the locked-memory limit, ulimit -l, is too low)";
        default:
            return why;
    }
}

int check_uring(int result, const char* call) {
    if (result < 0) throw std::system_error(-result, std::generic_category(), call);
    return result;
}

Ring::Ring(unsigned entries, unsigned flags) : ring_(std::make_unique<io_uring>()) {
    check_uring(::io_uring_queue_init(entries, ring_.get(), flags), "io_uring_queue_init");
}

Ring::~Ring() {
    if (ring_) ::io_uring_queue_exit(ring_.get());
}

Ring& Ring::operator=(Ring&& other) noexcept {
    if (this != &other) {
        if (ring_) ::io_uring_queue_exit(ring_.get());
        ring_ = std::move(other.ring_);
    }
    return *this;
}

io_uring_sqe& Ring::next_sqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) {
        check_uring(::io_uring_submit(ring_.get()), "io_uring_submit");
        sqe = ::io_uring_get_sqe(ring_.get());
    }
    if (sqe == nullptr) throw std::system_error(EBUSY, std::generic_category(), "io_uring_get_sqe");
    return *sqe;
}

bool Ring::submit_and_wait() {
    const int rc = ::io_uring_submit_and_wait(ring_.get(), 1);
    if (rc == -EINTR) return false;
    check_uring(rc, "io_uring_submit_and_wait");
    return true;
}

BufferRing::BufferRing(Ring& ring, std::uint16_t group, unsigned count, std::size_t size)
    : ring_(ring.get()), group_(group), count_(count), size_(size) {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
        throw std::invalid_argument("BufferRing: the count must be a power of two up to 32768");
    }
    shared_bytes_ = count * sizeof(io_uring_buf);
    void* shared = check_mmap(
        ::mmap(nullptr, shared_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
        "mmap");
    shared_ = static_cast<io_uring_buf_ring*>(shared);
    memory_ = std::make_unique<char[]>(count * size);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(shared);
    reg.ring_entries = count;
    reg.bgid = group;
    const int rc = ::io_uring_register_buf_ring(ring_, &reg, 0);
    if (rc < 0) {
        ::munmap(shared, shared_bytes_);
        check_uring(rc, "io_uring_register_buf_ring");
    }
    ::io_uring_buf_ring_init(shared_);
    const int mask = ::io_uring_buf_ring_mask(count);
    for (unsigned id = 0; id < count; ++id) {
        ::io_uring_buf_ring_add(shared_, memory_.get() + id * size, static_cast<unsigned>(size),
                                static_cast<unsigned short>(id), mask, static_cast<int>(id));
    }
    ::io_uring_buf_ring_advance(shared_, static_cast<int>(count));  // the kernel sees them now
}

BufferRing::~BufferRing() {
    if (shared_ == nullptr) return;
    (void)::io_uring_unregister_buf_ring(ring_, group_);
    ::munmap(shared_, shared_bytes_);
}

BufferRing::BufferRing(BufferRing&& other) noexcept
    : ring_(other.ring_),
      shared_(std::exchange(other.shared_, nullptr)),
      shared_bytes_(other.shared_bytes_),
      memory_(std::move(other.memory_)),
      group_(other.group_),
      count_(other.count_),
      size_(other.size_) {}

std::string_view BufferRing::bytes(unsigned id, std::size_t length) const noexcept {
    return {memory_.get() + id * size_, length};
}

void BufferRing::give_back(unsigned id) noexcept {
    ::io_uring_buf_ring_add(shared_, memory_.get() + id * size_, static_cast<unsigned>(size_),
                            static_cast<unsigned short>(id), ::io_uring_buf_ring_mask(count_), 0);
    ::io_uring_buf_ring_advance(shared_, 1);
}

int BufferRing::buffer_id(std::uint32_t cqe_flags) noexcept {
    if ((cqe_flags & IORING_CQE_F_BUFFER) == 0) return -1;
    return static_cast<int>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
}

}  // namespace csd
