// Calls one function of the lab library, chosen with CSD_PROBE, so that the
// split tests can check which part of the library has it: linked with a
// part that lacks it, this program must not link.
#include <csignal>
#include <string_view>

#include "csd/lab.hpp"

int main() {
#if CSD_PROBE == 1
    return static_cast<int>(csd::serve_connection(0));
#elif CSD_PROBE == 2
    return static_cast<int>(csd::parse_request("1"));
#elif CSD_PROBE == 3
    csd::Session session;
    return static_cast<int>(session.feed("1\n"));
#elif CSD_PROBE == 4
    csd::Session session;
    char buf[16];
    return static_cast<int>(csd::pump_input(0, session, buf, sizeof buf));
#elif CSD_PROBE == 5
    csd::ignore_sigpipe();
    return 0;
#elif CSD_PROBE == 6
    csd::route_signals({SIGTERM});
    return 0;
#elif CSD_PROBE == 7
    return csd::signal_fd();
#elif CSD_PROBE == 8
    return static_cast<int>(csd::fork_child());
#else
#error "CSD_PROBE: a number of the probes list (labs/lib/tests/split/CMakeLists.txt)"
#endif
}
