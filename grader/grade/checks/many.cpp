// many: thousands of connections held open at once; for select, a clean refusal
// beyond FD_SETSIZE.
#include <fmt/format.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "checks.hpp"
#include "client_run.hpp"
#include "csd/protocol.hpp"
#include "expect.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

constexpr int beyond_connections = 1100;
constexpr int beyond_must_serve = 900;
constexpr std::uint64_t beyond_request = 4000;

// One of the held connections of the FD_SETSIZE part.
struct Held {
    Connection conn;
    std::uint64_t got = 0;
    bool done = false;
};

// Opens @p count connections at once; those that fail to connect count as refused.
std::vector<Held> open_many(Context& ctx, int count, Deadline deadline, int& refused) {
    std::vector<Connection> pending;
    for (int i = 0; i < count; ++i) pending.push_back(Connection::begin_open(ctx.port()));
    std::vector<Held> held;
    for (auto& c : pending) {
        const int err = c.finish_connect(deadline.within(3s));
        if (err == 0) {
            held.push_back({std::move(c)});
        } else if (err == ECONNREFUSED || err == ECONNRESET || err == ETIMEDOUT) {
            ++refused;
        } else {
            fail(fmt::format("connect failed: {}", std::strerror(err)));
        }
    }
    return held;
}

// Every connection is served exactly or closed without a byte; counts the served ones.
int serve_all(std::vector<Held>& held, Deadline deadline, int& refused) {
    for (std::size_t i = 0; i < held.size(); ++i) {
        if (held[i].conn.send_some(request_line(beyond_request)) < 0) {
            held[i].done = true;  // already closed by the server: a refusal
            ++refused;
        }
    }
    int served = 0;
    std::vector<char> buf(8192);
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < held.size(); ++i) {
            if (!held[i].done) {
                fds.push_back({held[i].conn.fd(), POLLIN, 0});
                index.push_back(i);
            }
        }
        if (fds.empty()) return served;
        if (deadline.expired()) {
            fail(fmt::format(
                "{} of {} connections open at once got neither a complete reply nor a "
                "close in time ({} served, {} refused)",
                fds.size(), held.size() + static_cast<std::size_t>(refused), served, refused));
        }
        if (::poll(fds.data(), fds.size(), std::min(deadline.poll_ms(), 100)) <= 0) continue;
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents == 0) continue;
            Held& h = held[index[k]];
            const ReadResult r = h.conn.read_some(buf.data(),
                                                  static_cast<std::size_t>(std::min<std::uint64_t>(
                                                      buf.size(), beyond_request - h.got)),
                                                  Deadline(0ms));
            const std::string label =
                fmt::format("connection {} of {} open at once", index[k] + 1, held.size());
            if (r.status == ReadStatus::data) {
                const std::string_view chunk(buf.data(), r.bytes);
                if (const auto bad = csd::first_mismatch(chunk, h.got); bad < chunk.size()) {
                    fail(fmt::format("{}: reply byte {} is wrong ({})", label, h.got + bad,
                                     quote(chunk.substr(bad, 1))));
                }
                h.got += r.bytes;
                if (h.got == beyond_request) {
                    h.done = true;
                    h.conn.close();  // frees a slot in the server
                    ++served;
                }
            } else if (r.status != ReadStatus::timeout) {
                if (h.got > 0) {
                    fail(
                        fmt::format("{}: the server closed it after {} of {} reply bytes; "
                                    "refuse a connection before replying, or serve it fully",
                                    label, h.got, beyond_request));
                }
                h.done = true;
                h.conn.close();
                ++refused;
            }
        }
    }
}

// select only: 1100 connections at once, more than FD_SETSIZE allows.
void beyond_fd_setsize(Context& ctx) {
    const Deadline overall(30s);
    int refused = 0;
    std::vector<Held> held = open_many(ctx, beyond_connections, overall, refused);
    const int served = serve_all(held, overall, refused);
    held.clear();
    ctx.log("FD_SETSIZE part: {} served, {} refused", served, refused);
    ctx.require_running(
        fmt::format("with {} connections open at once (more than FD_SETSIZE)", beyond_connections));
    if (served < beyond_must_serve) {
        fail(
            fmt::format("of {} connections open at once, only {} were served ({} refused); "
                        "at least {} must be",
                        beyond_connections, served, refused, beyond_must_serve));
    }
    in_context(fmt::format("after {} connections at once, a fresh client", beyond_connections),
               [&] { fetch(ctx.reply(), ctx.port(), 4000, Deadline(3s), "request 4000"); });
}

// many: thousands of connections held at once.
void check_many(Context& ctx) {
    const LabInfo& lab = ctx.lab();
    run_client(ctx,
               {"--concurrent", std::to_string(lab.many_connections), "-c", "1", "-b", "4000",
                "--timeout", scaled_seconds_arg(10), "-q"},
               60s);
    if (lab.fd_setsize_limit) {
        in_context(
            "select and FD_SETSIZE", [&] { beyond_fd_setsize(ctx); },
            "FD_SET() with a descriptor >= FD_SETSIZE (1024) is undefined behaviour: "
            "close such a connection at once (no reply) and go on serving the others");
    }
}

}  // namespace

CSD_CHECK(many) {
    return {"many",
            10,
            check_many,
            "thousands of connections held open at once",
            "keep per-client state in a structure that grows with the number of clients, and do "
            "not stop accepting while you can serve",
            {"connections", "cpu"}};
}

}  // namespace csd::grade
