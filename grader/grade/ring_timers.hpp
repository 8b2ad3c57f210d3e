#pragma once
/// @file ring_timers.hpp
/// @brief The timers an io_uring server queued in its own ring: the
/// IORING_OP_TIMEOUT entries of its submission queue (the SQE array it
/// mapped at IORING_OFF_SQES, read through /proc/PID/mem), each with the
/// time its timespec asks for. A loop that waits in io_uring_enter() for a
/// completion or such a timeout is a timer loop, whatever its system call
/// shows: the timeout is in the ring, not in the call's arguments.
///
/// timeouts_in_sqes() and sqe_arrays() are pure (their input is given);
/// sqe_array_bytes() and queued_timeout() read /proc. Usable from any
/// thread.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csd::grade::ring_timers {

/// Reads @p size bytes of the server's memory at an address (nullopt: unreadable).
using MemoryReader = std::function<std::optional<std::string>(std::uint64_t, std::size_t)>;

/// One IORING_OP_TIMEOUT entry found in a submission queue array.
struct Timer {
    std::size_t slot = 0;      ///< Its index in the SQE array.
    std::optional<double> ms;  ///< Its time in ms (nullopt: timespec unreadable).
    bool absolute = false;     ///< IORING_TIMEOUT_ABS: a point in time, not a delay.
    /// The clock of an absolute timer: CLOCK_MONOTONIC, CLOCK_BOOTTIME or
    /// CLOCK_REALTIME (IORING_TIMEOUT_BOOTTIME, IORING_TIMEOUT_REALTIME).
    int clock = 1;
};

/// The IORING_OP_TIMEOUT entries of @p sqes, an array of 64-byte SQEs, with
/// their timespec read through @p memory. Entries stay in the array after
/// the kernel consumed them: a timer that fired is still there until the
/// slot is reused.
[[nodiscard]] std::vector<Timer> timeouts_in_sqes(std::string_view sqes,
                                                  const MemoryReader& memory);

/// The SQE arrays mapped by process @p pid (the address ranges of
/// /proc/PID/maps lines "anon_inode:[io_uring]" at offset 0x10000000),
/// parsed from the text of its maps.
[[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>> sqe_arrays(
    std::string_view maps);

/// The bytes of every SQE array process @p pid mapped (sqe_arrays() of its
/// /proc/PID/maps, read through /proc/PID/mem; an array that cannot be
/// read is left out). Entries stay in the array once consumed, so after a
/// few clients it shows what the server submits.
[[nodiscard]] std::vector<std::string> sqe_array_bytes(pid_t pid);

/// A timer of under @p below_ms in a ring of @p pid (relative, or absolute
/// and within @p below_ms of now, before or after), as "an
/// IORING_OP_TIMEOUT of 4600 ms in its io_uring's submission queue (slot 3
/// ...)"; "" when there is none (or no ring, or it cannot be read).
[[nodiscard]] std::string queued_timeout(pid_t pid, double below_ms);

}  // namespace csd::grade::ring_timers
