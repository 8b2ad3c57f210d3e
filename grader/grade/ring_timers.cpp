#include "ring_timers.hpp"

#include <fmt/format.h>

#include <time.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "procfs.hpp"

namespace csd::grade::ring_timers {

namespace {

// The layout of struct io_uring_sqe (linux/io_uring.h) that is read here:
// opcode at byte 0, addr (the timespec of a timeout) at byte 16, the
// operation's flags (timeout_flags) at byte 28; 64 bytes an entry.
constexpr std::size_t sqe_size = 64;
constexpr std::uint8_t op_timeout = 11;              // IORING_OP_TIMEOUT
constexpr std::uint32_t timeout_abs = 1U << 0;       // IORING_TIMEOUT_ABS
constexpr std::uint32_t timeout_boottime = 1U << 2;  // IORING_TIMEOUT_BOOTTIME
constexpr std::uint32_t timeout_realtime = 1U << 3;  // IORING_TIMEOUT_REALTIME
constexpr std::uint64_t off_sqes = 0x10000000U;      // IORING_OFF_SQES

}  // namespace

std::vector<Timer> timeouts_in_sqes(std::string_view sqes, const MemoryReader& memory) {
    std::vector<Timer> out;
    for (std::size_t at = 0; at + sqe_size <= sqes.size(); at += sqe_size) {
        if (static_cast<std::uint8_t>(sqes[at]) != op_timeout) continue;
        std::uint64_t addr = 0;
        std::uint32_t flags = 0;
        std::memcpy(&addr, sqes.data() + at + 16, sizeof addr);
        std::memcpy(&flags, sqes.data() + at + 28, sizeof flags);
        Timer t;
        t.slot = at / sqe_size;
        t.absolute = (flags & timeout_abs) != 0;
        if ((flags & timeout_boottime) != 0) t.clock = CLOCK_BOOTTIME;
        if ((flags & timeout_realtime) != 0) t.clock = CLOCK_REALTIME;
        if (memory && addr != 0) {
            if (const auto ts = memory(addr, 16); ts && ts->size() >= 16) {
                std::int64_t seconds = 0;
                std::int64_t nanos = 0;
                std::memcpy(&seconds, ts->data(), 8);
                std::memcpy(&nanos, ts->data() + 8, 8);
                t.ms = static_cast<double>(seconds) * 1000 + static_cast<double>(nanos) / 1e6;
            }
        }
        out.push_back(t);
    }
    return out;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> sqe_arrays(std::string_view maps) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    std::istringstream lines{std::string(maps)};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("anon_inode:[io_uring]") == std::string::npos) continue;
        std::istringstream fields(line);
        std::string range;
        std::string perms;
        std::string offset;
        fields >> range >> perms >> offset;
        const auto dash = range.find('-');
        if (dash == std::string::npos) continue;
        try {
            if (std::stoull(offset, nullptr, 16) != off_sqes) continue;
            out.emplace_back(std::stoull(range.substr(0, dash), nullptr, 16),
                             std::stoull(range.substr(dash + 1), nullptr, 16));
        } catch (const std::exception&) {
            continue;  // not a line of /proc/PID/maps
        }
    }
    return out;
}

std::vector<std::string> sqe_array_bytes(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/maps", pid));
    if (!in) return {};
    std::stringstream maps;
    maps << in.rdbuf();
    std::vector<std::string> out;
    for (const auto& [begin, end] : sqe_arrays(maps.str())) {
        // A few pages: an SQE array holds at most 32768 entries of 64 bytes.
        if (end <= begin || end - begin > (std::uint64_t{64} << 15)) continue;
        if (auto bytes = procfs::read_memory(pid, begin, static_cast<std::size_t>(end - begin))) {
            out.push_back(std::move(*bytes));
        }
    }
    return out;
}

std::string queued_timeout(pid_t pid, double below_ms) {
    const MemoryReader memory = [pid](std::uint64_t address, std::size_t size) {
        return procfs::read_memory(pid, address, size);
    };
    for (const std::string& sqes : sqe_array_bytes(pid)) {
        for (const Timer& t : timeouts_in_sqes(sqes, memory)) {
            if (!t.ms) continue;
            double ms = *t.ms;
            if (t.absolute) {
                timespec now{};
                ::clock_gettime(t.clock, &now);
                ms -=
                    static_cast<double>(now.tv_sec) * 1000 + static_cast<double>(now.tv_nsec) / 1e6;
            }
            if (std::fabs(ms) >= below_ms) continue;
            return fmt::format(
                "an IORING_OP_TIMEOUT of {}{:.0f} ms in its io_uring's submission queue (slot {} "
                "of its SQE array, /proc/{}/maps and mem)",
                t.absolute ? "(absolute, from now) " : "", ms, t.slot, pid);
        }
    }
    return {};
}

}  // namespace csd::grade::ring_timers
