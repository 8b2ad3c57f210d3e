#pragma once
/// @file broken_bug.hpp
/// @brief How a broken server (broken_*.cpp) learns its bug, and a test
/// server (models.cpp, hostile.cpp) its design or behaviour: from the name
/// it was started by. grader/broken/CMakeLists.txt builds each source once
/// and links broken-BUG (model-DESIGN, hostile-BEHAVIOUR) to it for each;
/// csd-grade starts the server by that link's path, which the kernel passes
/// on as argv[0].
/// Plain C++ and POSIX, no lab library. Header-only.

#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace broken {

/// The bug named by the program name @p argv0: its last path component
/// without @p prefix, which must be one of the space-separated words of
/// @p known (the bugs of the calling source). Anything else prints why and
/// exits with status 2. Called once, at the start of main(), before any
/// thread starts.
inline std::string_view bug_from_name(const char* argv0, std::string_view known,
                                      std::string_view prefix = "broken-") {
    std::string_view name = argv0 != nullptr ? argv0 : "";
    if (const auto slash = name.rfind('/'); slash != std::string_view::npos) {
        name.remove_prefix(slash + 1);
    }
    if (name.starts_with(prefix)) {
        const std::string_view bug = name.substr(prefix.size());
        for (std::string_view rest = known; !rest.empty();) {
            const auto space = rest.find(' ');
            if (rest.substr(0, space) == bug) return bug;
            rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
        }
    }
    std::fprintf(stderr, "%.*s: unknown name; run me as %.*sNAME, NAME one of: %.*s\n",
                 static_cast<int>(name.size()), name.data(), static_cast<int>(prefix.size()),
                 prefix.data(), static_cast<int>(known.size()), known.data());
    std::exit(2);
}

/// True when a tracer (strace) seems to be attached, told by timing alone,
/// as a cheat that hides from the grader's probes would: the cheapest of
/// 40 getppid() calls takes more than 5 us (tens of us when every system
/// call stops for ptrace, under 1 us otherwise). Reads no /proc file, so
/// the grader's tracer-probe detection cannot see it. Any thread.
inline bool tracer_by_timing() {
    using clock = std::chrono::steady_clock;  // vDSO: no system call
    auto cheapest = clock::duration::max();
    for (int i = 0; i < 40; ++i) {
        const auto start = clock::now();
        (void)::syscall(SYS_getppid);
        cheapest = std::min(cheapest, clock::now() - start);
    }
    return cheapest > std::chrono::microseconds(5);
}

}  // namespace broken
