#pragma once
/// @file pump.hpp
/// @brief Moving bytes between a non-blocking socket and its Session, for
/// the event-driven servers (what the select lab has you write by hand).

#include <cstddef>
#include <span>

#include "csd/protocol.hpp"

namespace csd {

/// How pump_input() or pump_output() stopped.
enum class Pump {
    more,     ///< The budget ran out, or the session needs nothing more now;
              ///< the socket may still be ready.
    drained,  ///< The socket would block (EAGAIN), or (input) the client
              ///< closed its side: wait for the next readiness event.
    gone,     ///< The client reset or vanished: close the connection.
};

/// Reads from the non-blocking socket @p fd into @p session, through
/// @p buffer, while the session wants input, until the socket would block
/// or @p budget bytes were read (so one busy client cannot starve the
/// others); it reads at most Session::input_room() bytes at a time, so the
/// session takes everything read and a client that does not read its
/// replies is left unread (back-pressure). End of input is passed on with Session::end_of_input().
/// Unexpected errors throw std::system_error. One thread at a time per
/// session.
Pump pump_input(int fd, Session& session, std::span<char> buffer, std::size_t budget);

/// Writes what @p session owes to the non-blocking socket @p fd, until
/// nothing is owed, the socket would block, or @p budget bytes went out.
/// Each partial write is consumed, so the next call goes on where this one
/// stopped. Uses MSG_NOSIGNAL (no SIGPIPE). Unexpected errors throw.
Pump pump_output(int fd, Session& session, std::size_t budget);

}  // namespace csd
