// The bytes queued toward the client when the -f file is rewritten in
// place (page_cache_probe.hpp).
#include "page_cache_probe.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <string>
#include <system_error>
#include <thread>

#include "checks.hpp"
#include "csd/fd.hpp"
#include "net.hpp"
#include "timing.hpp"

namespace csd::grade {

using namespace std::chrono_literals;

namespace {

// The reply asked for: shorter than the grader's file (no wrap-around),
// longer than what the sockets can hold.
constexpr std::uint64_t probe_bytes = 8u << 20;
// Less than this queued is too little to tell anything.
constexpr std::uint64_t min_queued = 16u << 10;

// Writes all of @p bytes at offset 0 of @p fd; throws std::system_error.
void write_at_start(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n =
            ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::system_error(errno, std::generic_category(), "pwrite");
        done += static_cast<std::size_t>(n);
    }
}

// Reads the first @p n bytes of @p fd; throws std::system_error.
std::string read_start(int fd, std::uint64_t n) {
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t r =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw std::system_error(errno, std::generic_category(), "pread");
        if (r == 0) break;
        done += static_cast<std::size_t>(r);
    }
    out.resize(done);
    return out;
}

// The bytes in @p fd's receive queue.
std::uint64_t queued_bytes(int fd) {
    int n = 0;
    if (::ioctl(fd, FIONREAD, &n) < 0)
        throw std::system_error(errno, std::generic_category(), "FIONREAD");
    return static_cast<std::uint64_t>(n);
}

// Owns the file's rewrite: the destructor writes the old bytes back.
class Rewrite {
  public:
    Rewrite(int fd, std::string old) : fd_(fd), old_(std::move(old)) {}
    ~Rewrite() {
        try {
            write_at_start(fd_, old_);
        } catch (const std::system_error&) {
            // The file is the grader's own: a later check's bytes will show it.
        }
    }
    Rewrite(const Rewrite&) = delete;
    Rewrite& operator=(const Rewrite&) = delete;

  private:
    int fd_;
    std::string old_;
};

}  // namespace

std::optional<PageCacheProbe> page_cache_probe(Context& ctx) {
    const std::string path = ctx.served_file_path();
    if (path.empty()) return std::nullopt;
    Fd file(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!file) throw std::system_error(errno, std::generic_category(), "open " + path);
    const std::string old = read_start(file.get(), probe_bytes);
    if (old.size() < probe_bytes) return std::nullopt;  // not the grader's file
    std::string rewritten = old;
    for (char& c : rewritten) c = static_cast<char>(~static_cast<unsigned char>(c));

    Connection conn = Connection::open(ctx.port(), Deadline(3s));
    conn.send_all(request_line(probe_bytes), Deadline(3s), "the probe's request");
    // Read nothing until the client's receive queue stops growing: the
    // server has sent what the sockets hold.
    std::uint64_t queued = 0;
    const Deadline settle(2s);
    for (int same = 0; same < 3 && !settle.expired();) {
        std::this_thread::sleep_for(scaled(20ms));
        const std::uint64_t now = queued_bytes(conn.fd());
        same = now == queued && now > 0 ? same + 1 : 0;
        queued = now;
    }
    std::string got;
    {
        const Rewrite rewrite(file.get(), old);
        write_at_start(file.get(), rewritten);
        got.reserve(probe_bytes);
        std::string buf(1u << 20, '\0');
        const Deadline end(20s);
        while (got.size() < probe_bytes) {
            const ReadResult r = conn.read_some(buf.data(), buf.size(), end);
            if (r.status != ReadStatus::data) {
                fail(fmt::format("the probe's reply of {} MiB stopped after {} bytes ({})",
                                 probe_bytes >> 20, got.size(),
                                 r.status == ReadStatus::timeout ? "nothing more came"
                                                                 : "the connection ended"));
            }
            got.append(buf.data(), r.bytes);
        }
    }
    PageCacheProbe out;
    out.queued = std::min<std::uint64_t>(queued, probe_bytes);
    for (std::uint64_t i = 0; i < probe_bytes; ++i) {
        const bool is_old = got[i] == old[i];
        const bool is_new = got[i] == rewritten[i];
        if (!is_old && !is_new) {
            fail(
                fmt::format("byte {} of the probe's reply is neither the file's byte nor the "
                            "byte it was rewritten to",
                            i));
        }
        if (i < out.queued) (is_new ? out.rewritten : out.old) += 1;
    }
    ctx.log("page-cache probe: {} bytes queued at the rewrite, {} came out rewritten, {} old",
            out.queued, out.rewritten, out.old);
    if (out.queued < min_queued) return std::nullopt;
    return out;
}

namespace {

// The probe's verdict: at least half of the queued bytes followed the file
// (@p shared: the page cache's own pages, sendfile or splice) or kept their
// old value (copies in the server's memory). Nothing to judge: logged.
void judge_page_cache(Context& ctx, bool shared, std::string_view mode, std::string_view hint) {
    const auto seen = page_cache_probe(ctx);
    if (!seen) {
        ctx.log("page-cache probe: nothing to judge");
        return;
    }
    if ((shared ? seen->rewritten : seen->old) * 2 >= seen->queued) return;
    if (shared) {
        fail(fmt::format("{}the grader rewrote the -f file in place while {} KiB of a reply "
                         "waited in the sockets: {} KiB of them kept the old bytes. Pages of the "
                         "page cache sent by sendfile or splice change with the file; these were "
                         "copies made before, in the server's memory",
                         mode, seen->queued >> 10, seen->old >> 10),
             std::string(hint));
    }
    fail(fmt::format("{}the grader rewrote the -f file in place while {} KiB of a reply waited "
                     "in the sockets: {} KiB of them changed with it. Those were the page "
                     "cache's own pages (sendfile, splice), not copies in the server's memory",
                     mode, seen->queued >> 10, seen->rewritten >> 10),
         std::string(hint));
}

}  // namespace

void require_page_cache_bytes(Context& ctx, std::string_view mode, std::string_view hint) {
    judge_page_cache(ctx, true, mode, hint);
}

void require_copied_bytes(Context& ctx, std::string_view hint) {
    judge_page_cache(ctx, false, "with -m copy, ", hint);
}

}  // namespace csd::grade
