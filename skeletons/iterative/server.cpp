// Lab "iterative": a TCP server that serves one client at a time.
//
// The protocol (docs/contract.md, section 1): the client sends "N\n", the
// server replies with exactly N bytes "abcd...zabc...". The handout,
// labs/iterative/handout.md, explains every step; the TODOs below name them
// ("handout step N").
//
// Given: the command line, the listening socket, routing SIGTERM, the bytes
// of a reply (reply_pattern()) and the declarations.
// Yours: checking a request, reading lines, writing whole replies, serving
// one client, the accept loop (accept, serve, close), SIGPIPE, SIGTERM while
// serving a client.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "csd/base.hpp"  // the iterative lab links csd::lab_base only

namespace {

/// How the I/O helpers below ended.
enum class Io {
    ok,    ///< Done: a whole line was read, or every byte was written.
    eof,   ///< The client closed its sending side (reads only).
    bad,   ///< More than csd::max_line_bytes bytes without a '\n' (reads only).
    gone,  ///< The client reset or vanished (ECONNRESET, EPIPE...).
    stop,  ///< SIGTERM or SIGINT arrived: the server is shutting down.
};

/// The bytes of a reply, from offset 0: "abc...z" repeated, a bit more than
/// 64 KiB. Reply bytes from offset `off` on are at reply_pattern()[off % 26].
std::string_view reply_pattern() {
    static const std::string bytes = [] {
        std::string s(26 * 2522, '\0');
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = csd::reply_byte(i);
        return s;
    }();
    return bytes;
}

/// Most bytes send_reply() hands to write_all() at once.
constexpr std::size_t reply_chunk = 26 * 2521;

/// The N of the request @p line (without '\n'), or 0 when it is malformed.
std::uint64_t request_size(std::string_view line) {
    // TODO(handout step 2): one '\r' may end the line; then digits only,
    // at most csd::max_line_bytes bytes, 1 <= N <= csd::max_request_bytes.
    // Check the limit digit by digit, so that a long number cannot overflow.
    (void)line;
    return 0;
}

/// Size of the request line buffer: any number of pipelined lines may be
/// waiting in it, a partial line is never longer than csd::max_line_bytes.
constexpr std::size_t read_buffer_size = 4096;

/// Reads request lines from one connected socket, buffered (UNP's readline).
///
/// Owns the buffer, not the socket. One read() may bring part of a line or
/// several lines: what follows the line returned stays here for the next
/// call. Used by the one thread of the server.
class LineReader {
  public:
    /// Reads from the blocking socket @p fd, which must outlive the reader.
    explicit LineReader(int fd) noexcept : fd_(fd) {}

    /// Reads the next line into @p line, without its '\n'.
    ///
    /// @p line stays valid until the next call. Returns Io::ok, or why
    /// there is no line: eof (a partial line is dropped), bad, gone, stop.
    Io next(std::string_view& line);

  private:
    int fd_;
    std::array<char, read_buffer_size> buf_{};
    std::size_t begin_ = 0;  // first byte not yet returned
    std::size_t end_ = 0;    // end of the bytes read so far
};

Io LineReader::next(std::string_view& line) {
    // TODO(handout step 3): return the next line from buf_, reading more
    // when no '\n' is buffered yet. Keep what follows the line for the next
    // call (pipelining), give up on a line longer than csd::max_line_bytes,
    // and handle read() returning 0, or -1 with ECONNRESET.
    // TODO(handout step 9): EINTR may mean SIGTERM: check csd::stop_requested().
    (void)line;
    (void)fd_;  // yours to use, with the members below
    (void)buf_;
    (void)begin_;
    (void)end_;
    return Io::eof;
}

/// Writes all of @p data to the blocking socket @p fd (UNP's writen).
/// Returns Io::ok once every byte is written, or gone or stop.
Io write_all(int fd, std::string_view data) {
    // TODO(handout step 4): write() may write fewer bytes than asked: loop,
    // continuing from where the last write() stopped. EPIPE and ECONNRESET
    // mean the client is gone.
    // TODO(handout step 9): EINTR may mean SIGTERM: check csd::stop_requested().
    (void)fd;
    (void)data;
    return Io::gone;
}

/// Sends the @p n bytes of one reply on @p fd, in chunks taken from
/// reply_pattern(). Returns Io::ok, or why it stopped (from write_all()).
Io send_reply(int fd, std::uint64_t n) {
    // TODO(handout step 5): the reply is n bytes "abc...zabc...": more than
    // fits in memory at once, so write it with write_all() in pieces of at
    // most reply_chunk bytes, each taken from reply_pattern() so that it
    // starts with the letter of its offset in the reply.
    (void)fd;
    (void)n;
    (void)reply_pattern;
    (void)write_all;
    return Io::gone;
}

/// Serves one client on the connected socket @p fd until it is done:
/// answers its requests in order, stops at the first malformed one.
/// The caller closes @p fd.
void serve_client(int fd) {
    // TODO(handout step 6): answer each request line in order, until there
    // is no line (EOF, a line too long, the client gone, a stop) or one is
    // malformed: then return without a reply, and the caller closes.
    (void)fd;
    (void)&LineReader::next;  // yours to call, with the functions below
    (void)request_size;
    (void)send_reply;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        // TODO(handout step 8): a client that vanishes makes write() raise
        // SIGPIPE, which kills the server. Ignore it, and get EPIPE instead.

        // SIGTERM and SIGINT set csd::stop_requested() and interrupt a
        // blocking call (EINTR); csd::wait_readable() also wakes up for them.
        csd::route_signals({SIGTERM, SIGINT});
        const csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);

        // TODO(handout step 7): the iterative loop (UNP ch. 30): until a stop
        // is requested, wait for a client (or a signal) on the listener,
        // accept it, serve it completely, close it, then the next one. No
        // descriptor left (EMFILE): pause a little, do not spin. Nobody to
        // accept after all: wait again.
        (void)serve_client;
        // Until then the server accepts nobody: it sleeps until SIGTERM.
        while (!csd::wait_for_stop(std::chrono::hours(1))) {
        }
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
