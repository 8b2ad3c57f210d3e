#include "capture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "csd/error.hpp"

namespace csd::grade {

OutputCapture::OutputCapture(std::size_t head_bytes, std::size_t tail_bytes)
    : head_bytes_(head_bytes), tail_bytes_(tail_bytes) {
    int fds[2];
    csd::check(::pipe2(fds, O_CLOEXEC), "pipe2");
    read_ = csd::Fd(fds[0]);
    write_ = csd::Fd(fds[1]);
    csd::check(::pipe2(fds, O_CLOEXEC), "pipe2");
    stop_read_ = csd::Fd(fds[0]);
    stop_write_ = csd::Fd(fds[1]);
    csd::check(::fcntl(read_.get(), F_SETFL, O_NONBLOCK), "fcntl");
    thread_ = std::thread([this] { drain(); });
}

OutputCapture::~OutputCapture() {
    write_.reset();
    stop_write_.reset();  // EOF on stop_read_: the thread drains what is there and ends
    thread_.join();
}

void OutputCapture::drain() {
    char chunk[16 * 1024];
    bool stopping = false;
    unsigned reads = 0;
    for (;;) {
        const ssize_t n = ::read(read_.get(), chunk, sizeof chunk);
        if (n > 0) {
            {
                const std::lock_guard lock(mutex_);
                keep(chunk, static_cast<std::size_t>(n));
            }
            // A writer that never pauses must not keep the destructor waiting.
            if (++reads % 64 == 0) {
                pollfd stop{.fd = stop_read_.get(), .events = POLLIN, .revents = 0};
                if (::poll(&stop, 1, 0) > 0) return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            const std::lock_guard lock(mutex_);
            eof_ = true;
            eof_cv_.notify_all();
            return;
        }
        if (stopping) return;  // stopped with nothing left now
        pollfd p[2] = {{.fd = read_.get(), .events = POLLIN, .revents = 0},
                       {.fd = stop_read_.get(), .events = POLLIN, .revents = 0}};
        if (::poll(p, 2, -1) < 0) continue;
        if (p[1].revents != 0) stopping = true;
    }
}

void OutputCapture::keep(const char* data, std::size_t n) {
    total_ += n;
    if (head_.size() < head_bytes_) {
        const std::size_t take = std::min(n, head_bytes_ - head_.size());
        head_.append(data, take);
        data += take;
        n -= take;
    }
    if (n == 0) return;
    tail_.append(data, n);
    if (tail_.size() > 2 * tail_bytes_) tail_.erase(0, tail_.size() - tail_bytes_);
}

std::string OutputCapture::text() const {
    const std::lock_guard lock(mutex_);
    const std::size_t tail = std::min(tail_.size(), tail_bytes_);
    const std::size_t cut = total_ - head_.size() - tail;
    std::string out = head_;
    if (cut > 0) {
        if (!out.empty() && out.back() != '\n') out += '\n';
        out += "[" + std::to_string(cut) + " bytes cut]\n";
    }
    out.append(tail_, tail_.size() - tail, tail);
    return out;
}

std::string OutputCapture::head() const {
    const std::lock_guard lock(mutex_);
    return head_;
}

bool OutputCapture::wait_for_eof(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return eof_cv_.wait_for(lock, timeout, [this] { return eof_; });
}

std::size_t OutputCapture::total() const {
    const std::lock_guard lock(mutex_);
    return total_;
}

}  // namespace csd::grade
