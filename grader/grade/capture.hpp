#pragma once
/// @file capture.hpp
/// @brief A graded program's stdout or stderr, read from a pipe as it
/// comes and kept up to a bound: its head and its tail.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "csd/fd.hpp"

namespace csd::grade {

/// Owns a pipe whose write end a graded program gets as stdout or stderr,
/// and a thread that drains the read end continuously (the program never
/// blocks on it), keeping the first @p head_bytes and the last
/// @p tail_bytes of what came. Reading the text is safe from any thread;
/// construct, close_write_end() and destroy from one thread.
class OutputCapture {
  public:
    /// Bytes kept from the start and from the end by default.
    static constexpr std::size_t default_bytes = 64 * 1024;

    /// A new pipe and its draining thread.
    explicit OutputCapture(std::size_t head_bytes = default_bytes,
                           std::size_t tail_bytes = default_bytes);
    /// Stops the thread (after draining what the pipe holds now).
    ~OutputCapture();
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;

    /// The write end, to hand to spawn_graded().
    [[nodiscard]] int write_end() const noexcept { return write_.get(); }
    /// Closes the grader's copy of the write end once the program has it:
    /// the pipe then reaches EOF when the program and its children close it.
    void close_write_end() { write_.reset(); }

    /// Everything kept: the whole output when it fit, else the head, a line
    /// `[N bytes cut]` and the tail.
    [[nodiscard]] std::string text() const;
    /// The first bytes kept (up to head_bytes).
    [[nodiscard]] std::string head() const;
    /// Bytes the program wrote in all (kept or not).
    [[nodiscard]] std::size_t total() const;
    /// Waits up to @p timeout until every writer closed the pipe and all
    /// was read (after the program ended: its last words are in text()).
    /// True when it was.
    bool wait_for_eof(std::chrono::milliseconds timeout) const;

  private:
    void drain();                                // the thread
    void keep(const char* data, std::size_t n);  // under mutex_

    std::size_t head_bytes_;
    std::size_t tail_bytes_;
    csd::Fd read_;
    csd::Fd write_;
    csd::Fd stop_read_;  // the thread ends when this becomes readable
    csd::Fd stop_write_;
    mutable std::mutex mutex_;
    mutable std::condition_variable eof_cv_;
    bool eof_ = false;
    std::string head_;
    std::string tail_;  // what came after head_: its last tail_bytes_ (up to twice that)
    std::size_t total_ = 0;
    std::thread thread_;
};

}  // namespace csd::grade
