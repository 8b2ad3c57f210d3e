// libFuzzer target for csd::Session, the code that parses untrusted bytes.
//
// The input is a script: each step takes a control byte, then feeds the
// next bytes (a chunk of 1 to 64 bytes, as a read() might bring them) or
// sends some output. The session is checked against a reference model
// built from the bytes it said it took:
// - feed() takes at most what it is offered, everything when it is
//   malformed or at end of input, and all of at most input_room() bytes;
// - never more than max_queued_requests requests are queued;
// - malformed() never goes back to false;
// - the output is exactly the replies of the valid lines before the first
//   malformed one, each from 'a', in order (checked byte by byte for the
//   first bytes of every chunk, skipped with reply_left() for huge replies);
// - finished() is (malformed or end of input) and nothing left to send.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "csd/protocol.hpp"

namespace {

/// Aborts (a finding for libFuzzer) when @p ok is false, saying which
/// invariant broke.
void require(bool ok, int line = __builtin_LINE()) {
    if (ok) return;
    std::fprintf(stderr, "session_fuzz.cpp:%d: invariant broken\n", line);
    std::abort();
}

/// What the session should do, from the bytes it took.
class Model {
  public:
    /// The session took @p bytes.
    void took(std::string_view bytes) {
        for (const char c : bytes) {
            if (malformed_ || eof_) return;
            if (c != '\n') {
                line_ += c;
                if (line_.size() > csd::max_line_bytes) malformed_ = true;
                continue;
            }
            const std::uint64_t n = csd::parse_request(line_);
            line_.clear();
            if (n == 0) {
                malformed_ = true;
            } else {
                replies_.push_back(n);
            }
        }
    }
    void end_of_input() { eof_ = true; }
    /// @p count bytes were sent next, the first of them in @p got: check
    /// the first bytes of @p got and move on past all @p count.
    void sent(std::string_view got, std::size_t count) {
        const std::size_t checkable = std::min<std::size_t>({got.size(), count, 4096});
        std::size_t base = 0;  // position in got of the current reply's first byte sent now
        while (count > 0) {
            require(!replies_.empty());
            const std::uint64_t left = replies_.front() - offset_;
            const auto here = static_cast<std::size_t>(std::min<std::uint64_t>(left, count));
            for (std::size_t i = 0; i < here && base + i < checkable; ++i) {
                require(got[base + i] == csd::reply_byte(offset_ + i));
            }
            base += here;
            offset_ += here;
            count -= here;
            if (offset_ == replies_.front()) {
                replies_.pop_front();
                offset_ = 0;
            }
        }
    }
    [[nodiscard]] bool malformed() const { return malformed_; }
    [[nodiscard]] bool owes() const { return !replies_.empty(); }

  private:
    std::deque<std::uint64_t> replies_;
    std::uint64_t offset_ = 0;
    std::string line_;
    bool malformed_ = false;
    bool eof_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    csd::Session session;
    Model model;
    bool was_malformed = false;
    bool eof = false;
    while (!in.empty()) {
        const auto control = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        if (control < 160) {  // feed a chunk of 1..64 bytes
            const std::size_t want = std::min<std::size_t>(in.size(), control % 64 + 1);
            const std::string_view chunk = in.substr(0, want);
            in.remove_prefix(want);
            const std::size_t room = session.input_room();
            const bool wanted = session.wants_input();
            const std::size_t taken = session.feed(chunk);
            require(taken <= chunk.size());
            if (session.malformed() || eof) require(taken == chunk.size());
            if (wanted && chunk.size() <= room) require(taken == chunk.size());
            model.took(chunk.substr(0, taken));
        } else if (control < 240) {  // send some output
            if (!session.has_output()) continue;
            const std::string_view out = session.output();
            require(!out.empty());
            std::size_t n = std::min<std::size_t>(out.size(), (control - 160u) * 97u + 1);
            if (control >= 236 && session.reply_left() > out.size()) {
                n = static_cast<std::size_t>(session.reply_left());  // sent from a file, all of it
            }
            model.sent(out, n);
            session.consume(n);
        } else if (control == 255) {
            session.end_of_input();
            model.end_of_input();
            eof = true;
        }
        require(session.queued() <= csd::max_queued_requests);
        require(session.malformed() == model.malformed());
        if (was_malformed) require(session.malformed());
        was_malformed = session.malformed();
        require(session.has_output() == model.owes());
        require(session.finished() == ((session.malformed() || eof) && !session.has_output()));
    }
    return 0;
}
