#pragma once
/// @file net.hpp
/// @brief The grader's side of a TCP connection to the server: every
/// operation is non-blocking underneath and waits with poll() up to a
/// deadline, so a silent server can never hang the grader.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "csd/fd.hpp"
#include "deadline.hpp"

namespace csd::grade {

/// What one read came to.
enum class ReadStatus {
    data,     ///< At least one byte arrived.
    eof,      ///< The server closed its side (FIN).
    reset,    ///< The server reset the connection (RST).
    timeout,  ///< Nothing before the deadline.
    error,    ///< Another error (see ReadResult::error).
};

/// Result of Connection::read_some().
struct ReadResult {
    ReadStatus status = ReadStatus::timeout;  ///< What happened.
    std::size_t bytes = 0;                    ///< Bytes read when status is data.
    int error = 0;                            ///< errno when status is error.
};

/// The receive side of a client connection, chosen before connect().
enum class Window {
    normal,  ///< The kernel's defaults: on loopback, megabytes in flight.
    /// A 4 KiB receive buffer and a 536-byte MSS (set before connect, so
    /// the SYN carries them): the server's send buffer starts near 64 KiB
    /// instead of megabytes, so a client that reads slowly fills it
    /// quickly. Then a reply of a few hundred KiB no longer fits in the
    /// socket buffers (a blocking write blocks) and non-blocking writes of
    /// the server come back short (a partial write happens for sure).
    narrow,
    /// The smallest receive buffer the kernel allows (SO_RCVBUF 1: about
    /// 1 KiB of window) and the 536-byte MSS: even a reply of a few KiB
    /// waits in the server's send queue until the client reads.
    tiny,
};

/// One client connection to 127.0.0.1:PORT. Owns its socket (csd::Fd,
/// non-blocking, CLOEXEC). Move-only; one thread at a time.
class Connection {
  public:
    /// Connects before @p deadline; throws CheckFailed saying why not.
    static Connection open(std::uint16_t port, Deadline deadline, Window window = Window::normal);
    /// Starts a non-blocking connect and returns at once; see finish_connect().
    static Connection begin_open(std::uint16_t port, Window window = Window::normal);
    /// For begin_open(): waits until the connect completed; returns 0 or the errno
    /// (ETIMEDOUT at the deadline).
    int finish_connect(Deadline deadline);

    /// Sends all of @p data; throws CheckFailed when the server closes or
    /// stops reading until @p deadline. @p what names the request in messages.
    void send_all(std::string_view data, Deadline deadline, std::string_view what);
    /// Sends what the socket takes now without waiting; returns the bytes
    /// sent, or -1 with errno for a real error.
    long send_some(std::string_view data);
    /// One read of up to @p size bytes, waiting until @p deadline.
    ReadResult read_some(char* buf, std::size_t size, Deadline deadline);
    /// Half-close: shutdown(SHUT_WR), the server reads EOF.
    void shutdown_write();
    /// Sets TCP_NODELAY, so each send goes out as its own segment.
    void set_nodelay();
    /// Closes with SO_LINGER {1, 0}: the server gets an RST, not a FIN.
    void reset();
    /// Closes normally (FIN).
    void close() { fd_.reset(); }

    /// The socket descriptor (-1 once closed).
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    /// The client-side port of this connection.
    [[nodiscard]] std::uint16_t local_port() const;

  private:
    explicit Connection(csd::Fd fd, int connect_error = 0)
        : fd_(std::move(fd)), connect_error_(connect_error) {}
    csd::Fd fd_;
    int connect_error_ = 0;  // connect(2) failed at once with this errno
};

/// The request line for @p n bytes: "N\n".
[[nodiscard]] std::string request_line(std::uint64_t n);

/// @p bytes as a short quoted C-like literal for messages ("ab\n\x00"), at
/// most @p max input bytes shown.
[[nodiscard]] std::string quote(std::string_view bytes, std::size_t max = 40);

}  // namespace csd::grade
