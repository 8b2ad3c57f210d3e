// The timers an io_uring server keeps in its own ring: the IORING_OP_TIMEOUT
// entries of its SQE array, and where that array is mapped.
#include "ring_timers.hpp"

#include <time.h>

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace csd::grade::ring_timers;

namespace {

// A 64-byte SQE with @p opcode, @p addr at byte 16 and @p flags at byte 28.
std::string sqe(std::uint8_t opcode, std::uint64_t addr, std::uint32_t flags = 0) {
    std::string bytes(64, '\0');
    bytes[0] = static_cast<char>(opcode);
    std::memcpy(bytes.data() + 16, &addr, 8);
    std::memcpy(bytes.data() + 28, &flags, 4);
    return bytes;
}

std::string timespec_bytes(std::int64_t sec, std::int64_t nsec) {
    std::string bytes(16, '\0');
    std::memcpy(bytes.data(), &sec, 8);
    std::memcpy(bytes.data() + 8, &nsec, 8);
    return bytes;
}

}  // namespace

TEST_CASE("timeouts_in_sqes: the IORING_OP_TIMEOUT entries, with their time") {
    // Slot 0 a recv (27), slot 1 a 4.6 s timeout, slot 2 a link timeout
    // (15: a limit on another request, not a timer), slot 3 an absolute one.
    const std::string sqes =
        sqe(27, 0x9000) + sqe(11, 0x1000) + sqe(15, 0x1000) + sqe(11, 0x2000, 1U | (1U << 3));
    const MemoryReader memory = [](std::uint64_t address,
                                   std::size_t size) -> std::optional<std::string> {
        if (size != 16) return std::nullopt;
        if (address == 0x1000) return timespec_bytes(4, 600'000'000);
        if (address == 0x2000) return timespec_bytes(1'800'000'000, 0);
        return std::nullopt;
    };
    const auto timers = timeouts_in_sqes(sqes, memory);
    REQUIRE(timers.size() == 2);
    CHECK(timers[0].slot == 1);
    REQUIRE(timers[0].ms);
    CHECK(*timers[0].ms == doctest::Approx(4600));
    CHECK_FALSE(timers[0].absolute);
    CHECK(timers[1].slot == 3);
    CHECK(timers[1].absolute);
    CHECK(timers[1].clock == CLOCK_REALTIME);
    // Its timespec unreadable: found, with no time.
    const auto blind = timeouts_in_sqes(sqe(11, 0x5000), memory);
    REQUIRE(blind.size() == 1);
    CHECK_FALSE(blind[0].ms);
    // A short tail is not an entry.
    CHECK(timeouts_in_sqes(sqe(11, 0x1000).substr(0, 63), memory).empty());
}

TEST_CASE("sqe_arrays: the io_uring mappings at IORING_OFF_SQES") {
    const std::string maps =
        "55d0c000-55d0d000 r-xp 00000000 08:01 1234 /usr/bin/server\n"
        "7f0000000000-7f0000002000 rw-s 00000000 00:0f 77 anon_inode:[io_uring]\n"
        "7f0000004000-7f0000008000 rw-s 10000000 00:0f 77 anon_inode:[io_uring]\n"
        "7f000000a000-7f000000b000 rw-s 08000000 00:0f 77 anon_inode:[io_uring]\n";
    const auto arrays = sqe_arrays(maps);
    REQUIRE(arrays.size() == 1);
    CHECK(arrays[0].first == 0x7f0000004000ULL);
    CHECK(arrays[0].second == 0x7f0000008000ULL);
    CHECK(sqe_arrays("garbage\n7f-? rw-s zz anon_inode:[io_uring]\n").empty());
}
