#include "csd/pump.hpp"

#include <algorithm>

#include "csd/net.hpp"

namespace csd {

Pump pump_input(int fd, Session& session, std::span<char> buffer, std::size_t budget) {
    for (std::size_t total = 0; total < budget && session.wants_input();) {
        // No more than the session is sure to take: the rest stays in the
        // socket (back-pressure), and readiness says when it is there.
        const std::size_t room = std::min(buffer.size(), session.input_room());
        const ReadResult r = read_some(fd, buffer.data(), room);
        switch (r.status) {
            case ReadStatus::ok:
                (void)session.feed({buffer.data(), r.bytes});  // all of it: at most input_room()
                total += r.bytes;
                break;
            case ReadStatus::eof:
                session.end_of_input();  // its requests are still answered
                return Pump::drained;
            case ReadStatus::would_block:
                return Pump::drained;
            case ReadStatus::peer_gone:
                return Pump::gone;
            case ReadStatus::interrupted:
                return Pump::more;
        }
    }
    return Pump::more;
}

Pump pump_output(int fd, Session& session, std::size_t budget) {
    for (std::size_t total = 0; total < budget && session.has_output();) {
        const WriteResult w = write_some(fd, session.output());
        switch (w.status) {
            case WriteStatus::ok:
                session.consume(w.bytes);  // partial: the rest goes next time
                total += w.bytes;
                break;
            case WriteStatus::would_block:
                return Pump::drained;
            case WriteStatus::peer_gone:
                return Pump::gone;
            case WriteStatus::interrupted:
                return Pump::more;
        }
    }
    return Pump::more;
}

}  // namespace csd
