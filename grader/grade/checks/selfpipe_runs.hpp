#pragma once
/// @file selfpipe_runs.hpp
/// @brief What the selfpipe lab's checks (lines, signals, race-window,
/// idle-wakeups) share: the lines a run of the program must print, and its
/// answer to SIGUSR1 (docs/contract.md section 6, selfpipe). Each fails the
/// check (CheckFailed) with the program's stdout when the run does not do
/// what it should. Main thread only.

#include <chrono>
#include <string>
#include <string_view>

#include "deadline.hpp"
#include "program.hpp"

namespace csd::grade::selfpipe {

/// How long the program may take to answer SIGUSR1 (scaled by Deadline).
constexpr std::chrono::milliseconds answer_time{100};
/// After this long (scaled) without an answer, the program is taken to hang.
constexpr std::chrono::milliseconds give_up_time{1500};

/// give_up_time in milliseconds once scaled, for messages.
double give_up_ms();

/// "the program `CMD` (run N) " for messages.
std::string who(const ProgramRun& run, std::string_view run_name);

/// Reads the next line and requires it to be @p expected.
void expect_line(ProgramRun& run, std::string_view expected, Deadline deadline,
                 std::string_view run_name);

/// Waits for `ready`, the program's first line.
void expect_ready(ProgramRun& run, std::string_view run_name);

/// After SIGUSR1 was sent: the program must print `got SIGUSR1` (after any
/// `line: ...` lines) and exit with status 0 before @p deadline. @p
/// when_sent says where the signal landed, for the message.
/// Returns the milliseconds from @p sent until the program had exited.
double expect_answer(ProgramRun& run, Deadline::Clock::time_point sent, Deadline deadline,
                     std::string_view run_name, std::string_view when_sent, double allowed_ms);

/// What is wrong with how the program answered SIGUSR1, from the text of
/// `strace -e trace=write,writev,rt_sigreturn,exit,exit_group -e
/// signal=all` around it: "" when the signal went to a handler that
/// returned (rt_sigreturn) before `got SIGUSR1` was written and before the
/// program exited, or when no handler ran (signalfd: the signal stays
/// blocked and is read). Pure.
[[nodiscard]] std::string handler_problem(std::string_view trace);

/// The self-pipe mode's own rule, in strace output @p trace (traced with
/// write and rt_sigreturn, signals shown): the byte goes into the pipe from
/// the handler, between the signal's `--- SIGUSR1` line and the handler's
/// rt_sigreturn (a write to a descriptor above 2). A handler that only sets
/// a flag, the loop writing the pipe once it has seen it, leaves the race
/// the trick closes. "" when right, or when the trace shows no signal.
[[nodiscard]] std::string self_pipe_problem(std::string_view trace);

/// The self-pipe's ends, seen in /proc while process @p pid waits: each
/// pipe whose two ends it holds (the self-pipe; stdout's pipe has its other
/// end in the grader) must have both non-blocking, so that a handler's write
/// into a full pipe fails instead of blocking the process for good and the
/// loop's drain stops when the pipe is empty. "" when right, or when it
/// holds no such pipe (a variant that uses something else is judged by the
/// traces).
[[nodiscard]] std::string self_pipe_ends_problem(pid_t pid);

/// The calls a program of the lab may wait in (select and its kin), for
/// strace's `-e trace=`.
inline constexpr std::string_view wait_calls =
    "select,pselect6,poll,ppoll,epoll_wait,epoll_pwait,epoll_pwait2";

/// What is wrong, from its strace text (@p trace, with `-e signal=all` and
/// the wait_calls traced), with a run whose SIGUSR1 was sent inside the
/// -w window: "" when the answer `got SIGUSR1` came from a wait (one of
/// wait_calls) that was in progress when the signal was delivered (it
/// returned `? ERESTART...`) or that started after it; or, when no handler
/// ran (signalfd), from a wait at all. A program that looks at its flag
/// again after the window answers with no wait in between. Pure.
[[nodiscard]] std::string window_problem(std::string_view trace);

}  // namespace csd::grade::selfpipe
