#pragma once
/// @file fd_passing.hpp
/// @brief Descriptor passing over a UNIX-domain socket (SCM_RIGHTS, one
/// data byte), for the test servers that need it (models.cpp: a parent
/// that hands connections to workers; broken_blocking.cpp: clients parked
/// in flight). Plain POSIX, no lab library (the fdpass lab's students
/// write their own). Header-only; any thread.

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace broken {

/// Sends @p fd over the UNIX socket @p channel (SCM_RIGHTS); false when
/// the send fails. The caller still owns @p fd.
inline bool send_fd(int channel, int fd) {
    char byte = 'c';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(channel, &msg, MSG_NOSIGNAL) == 1;
}

/// Receives a descriptor from @p channel (close-on-exec); -1 when the
/// channel is closed or the message carries none.
inline int recv_fd(int channel) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

}  // namespace broken
