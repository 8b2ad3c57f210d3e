#include "reply_format.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "csd/protocol.hpp"

namespace csd::grade {
namespace {

// The alphabet 4096 times over: reply bytes from offset o on are
// alphabet[o % 26 ...], compared a block at a time.
const std::string& alphabet_pattern() {
    static const std::string pattern = [] {
        std::string p(26 * 4096, 'a');
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = csd::reply_byte(i);
        return p;
    }();
    return pattern;
}

}  // namespace

ReplyFormat ReplyFormat::cycling(std::string bytes) {
    if (bytes.empty()) throw std::invalid_argument("ReplyFormat::cycling: no bytes");
    ReplyFormat format;
    format.cycle_ = std::make_shared<const std::string>(std::move(bytes));
    return format;
}

ReplyFormat ReplyFormat::with_header_line() const {
    ReplyFormat format = *this;
    format.header_line_ = true;
    return format;
}

ReplyFormat ReplyFormat::body_only() const {
    ReplyFormat format = *this;
    format.header_line_ = false;
    return format;
}

char ReplyFormat::byte(std::uint64_t i) const noexcept {
    if (cycle_ == nullptr) return csd::reply_byte(i);
    return (*cycle_)[static_cast<std::size_t>(i % cycle_->size())];
}

std::size_t ReplyFormat::mismatch(std::string_view got, std::uint64_t offset) const noexcept {
    const std::string& pattern = cycle_ == nullptr ? alphabet_pattern() : *cycle_;
    const std::uint64_t period = cycle_ == nullptr ? 26 : cycle_->size();
    std::size_t done = 0;
    while (done < got.size()) {
        const auto start = static_cast<std::size_t>((offset + done) % period);
        const std::size_t len = std::min(got.size() - done, pattern.size() - start);
        if (std::memcmp(got.data() + done, pattern.data() + start, len) != 0) {
            std::size_t k = 0;
            while (got[done + k] == pattern[start + k]) ++k;
            return done + k;
        }
        done += len;
    }
    return got.size();
}

}  // namespace csd::grade
