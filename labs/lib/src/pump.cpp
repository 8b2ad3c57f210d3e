#include "csd/pump.hpp"

#include "csd/net.hpp"

namespace csd {

Pump pump_input(int fd, Session& session, std::span<char> buffer, std::size_t budget) {
    for (std::size_t total = 0; total < budget && session.wants_input();) {
        const IoResult r = read_some(fd, buffer.data(), buffer.size());
        switch (r.status) {
            case IoStatus::ok:
                session.feed({buffer.data(), r.bytes});
                total += r.bytes;
                break;
            case IoStatus::eof:
                session.end_of_input();  // its requests are still answered
                return Pump::drained;
            case IoStatus::would_block:
                return Pump::drained;
            case IoStatus::peer_gone:
                return Pump::gone;
            case IoStatus::interrupted:
                return Pump::more;
        }
    }
    return Pump::more;
}

Pump pump_output(int fd, Session& session, std::size_t budget) {
    for (std::size_t total = 0; total < budget && session.has_output();) {
        const IoResult w = write_some(fd, session.output());
        switch (w.status) {
            case IoStatus::ok:
                session.consume(w.bytes);  // partial: the rest goes next time
                total += w.bytes;
                break;
            case IoStatus::would_block:
                return Pump::drained;
            case IoStatus::peer_gone:
                return Pump::gone;
            case IoStatus::interrupted:
            case IoStatus::eof:  // not a write result
                return Pump::more;
        }
    }
    return Pump::more;
}

}  // namespace csd
