#pragma once
/// @file record.hpp
/// @brief What a child tells the parent about each connection: one text
/// line per connection on a pipe shared by all children.
///
/// Lines: `ok CHILD CONNECTION NANOSECONDS` and
/// `fail CHILD CONNECTION MESSAGE`. Encoding and decoding are pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace csd::client {

/// The outcome of one connection, as sent through the pipe.
struct Record {
    int child = 0;                 ///< Child number, from 1.
    std::uint64_t connection = 0;  ///< Connection number within the child, from 1.
    bool ok = false;               ///< True when the reply was exact.
    std::uint64_t latency_ns = 0;  ///< Connect to last reply byte (ok only).
    std::string message;           ///< What went wrong (failures only).
};

/// The line for @p record, ending in `\n`. Newlines in the message
/// become spaces so that one record is always one line.
[[nodiscard]] std::string encode(const Record& record);

/// Parses one line (without its `\n`); nullopt when it is not a record.
[[nodiscard]] std::optional<Record> decode(std::string_view line);

/// Child side of the pipe: collects lines and writes them in chunks of at
/// most PIPE_BUF bytes that end at a line boundary, so that the lines of
/// different children never interleave. Does not own the descriptor.
/// One thread at a time.
class RecordWriter {
  public:
    /// Writes to the pipe @p fd (blocking).
    explicit RecordWriter(int fd) noexcept : fd_(fd) {}
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;
    /// Flushes what is left (errors ignored: the parent may be gone).
    ~RecordWriter();

    /// Queues @p record, writing the queue first when it would grow too big.
    void add(const Record& record);
    /// Writes everything queued. Throws std::system_error when write fails.
    void flush();

  private:
    int fd_;
    std::string pending_;
};

/// Parent side: splits what is read from the pipe into lines. Owns only
/// its buffer; one thread at a time.
class LineSplitter {
  public:
    /// Adds @p bytes and calls @p on_line for each complete line (without `\n`).
    template <typename OnLine>
    void feed(std::string_view bytes, OnLine&& on_line) {
        buffer_.append(bytes);
        std::size_t start = 0;
        for (std::size_t end; (end = buffer_.find('\n', start)) != std::string::npos;
             start = end + 1)
            on_line(std::string_view(buffer_).substr(start, end - start));
        buffer_.erase(0, start);
    }
    /// Bytes of an unfinished line (non-zero at the end means a child died mid-record).
    [[nodiscard]] std::size_t pending() const noexcept { return buffer_.size(); }

  private:
    std::string buffer_;
};

}  // namespace csd::client
