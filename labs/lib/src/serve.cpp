#include "csd/serve.hpp"

#include <poll.h>

#include <array>

#include "csd/error.hpp"

#include "csd/net.hpp"
#include "csd/protocol.hpp"
#include "csd/signals.hpp"

namespace csd {
namespace {

// Waits until @p fd is ready for @p events; only needed if a caller handed
// us a non-blocking socket. A signal just ends the wait.
void wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) throw_errno("poll");
}

}  // namespace

ConnectionEnd serve_connection(int fd) {
    Session session;
    std::array<char, 4096> buf{};
    for (;;) {
        // Answer everything received before reading more: the reply to a
        // pipelined request never waits for the next request.
        while (session.has_output()) {
            const IoResult w = write_some(fd, session.output());
            switch (w.status) {
                case IoStatus::ok:
                    session.consume(w.bytes);
                    break;
                case IoStatus::interrupted:
                    if (stop_requested()) return ConnectionEnd::stopped;
                    break;
                case IoStatus::peer_gone:
                    return ConnectionEnd::peer_gone;
                case IoStatus::would_block:
                case IoStatus::eof:  // not a write result
                    wait_for(fd, POLLOUT);
                    break;
            }
        }
        if (session.finished()) {
            return session.malformed() ? ConnectionEnd::malformed : ConnectionEnd::closed;
        }
        const IoResult r = read_some(fd, buf.data(), buf.size());
        switch (r.status) {
            case IoStatus::ok:
                session.feed({buf.data(), r.bytes});
                break;
            case IoStatus::eof:
                session.end_of_input();
                break;
            case IoStatus::interrupted:
                if (stop_requested()) return ConnectionEnd::stopped;
                break;
            case IoStatus::peer_gone:
                return ConnectionEnd::peer_gone;
            case IoStatus::would_block:
                wait_for(fd, POLLIN);
                break;
        }
    }
}

}  // namespace csd
