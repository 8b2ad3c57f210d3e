#pragma once
/// @file reply_format.hpp
/// @brief What the bytes of every reply of a lab are: a value the runner
/// makes once per grading run and hands to the checks through their Context.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace csd::grade {

/// The reply to a request for N bytes, as a lab's contract defines it: N
/// bytes of the alphabet (docs/contract.md section 1), N bytes cycling
/// through a served file (sendfile, section 6), either one after the
/// header line "N\n" (cork, section 6). A plain value, cheap to copy (the
/// file's bytes are shared, never changed): any thread.
class ReplyFormat {
  public:
    /// The alphabet, no header line (section 1).
    ReplyFormat() = default;
    /// Replies that cycle through @p bytes (not empty): byte i of every
    /// reply is bytes[i % bytes.size()].
    [[nodiscard]] static ReplyFormat cycling(std::string bytes);
    /// This format with the header line "N\n" before every reply.
    [[nodiscard]] ReplyFormat with_header_line() const;
    /// This format without the header line: the bytes after it.
    [[nodiscard]] ReplyFormat body_only() const;

    /// True when every reply starts with the header line "N\n".
    [[nodiscard]] bool header_line() const noexcept { return header_line_; }
    /// True when the replies are the alphabet (section 1), header or not.
    [[nodiscard]] bool alphabet() const noexcept { return cycle_ == nullptr; }
    /// Byte @p i of every reply (after the header line, if any).
    [[nodiscard]] char byte(std::uint64_t i) const noexcept;
    /// Index of the first byte of @p got that is not the reply byte at
    /// offset @p offset + i, or got.size(): memcmp against a pattern, fast
    /// enough for a gigabyte.
    [[nodiscard]] std::size_t mismatch(std::string_view got, std::uint64_t offset) const noexcept;

  private:
    std::shared_ptr<const std::string> cycle_;  // null: the alphabet
    bool header_line_ = false;
};

}  // namespace csd::grade
