#pragma once
/// @file thread_hold.hpp
/// @brief One thread of a graded server held stopped by the grader
/// (ptrace(2): PTRACE_SEIZE and PTRACE_INTERRUPT on that thread alone; the
/// server's other threads run on), to see whether the server waits for it:
/// a process that exits while one of its threads has not ended kills it,
/// and the grader sees the thread die while it holds it.
///
/// Owns the ptrace attachment of the thread until release() or its
/// destruction (which releases it). ptrace belongs to the thread that
/// attached: use a ThreadHold from one thread only (the grader's checks
/// run on its main thread).

#include <sys/types.h>

#include <string>

namespace csd::grade {

/// A thread held stopped; see the file comment.
class ThreadHold {
  public:
    /// What became of the held thread.
    enum class Fate {
        held,   ///< Still stopped, as the grader left it.
        ended,  ///< It died while held: its process exited (or killed it).
    };

    /// Attaches to thread @p tid of process @p pid and stops it (waits up to
    /// 1 s, scaled, for the stop). held() is false, and why_not() says why,
    /// when that fails (no permission, a sanitizer's tracer, the thread
    /// gone).
    ThreadHold(pid_t pid, pid_t tid);
    ~ThreadHold();
    ThreadHold(const ThreadHold&) = delete;
    ThreadHold& operator=(const ThreadHold&) = delete;

    /// True when the thread was stopped and is still held.
    [[nodiscard]] bool held() const noexcept { return attached_ && why_not_.empty(); }

    /// Why the thread could not be held, "" when it was.
    [[nodiscard]] const std::string& why_not() const noexcept { return why_not_; }

    /// What became of the thread since it was stopped (does not wait).
    /// A signal the kernel gave it meanwhile is kept for release().
    [[nodiscard]] Fate fate();

    /// Lets the thread run on (PTRACE_DETACH, handing it the signal it was
    /// given while held, if any). Nothing when it ended or was never held.
    void release();

  private:
    pid_t tid_ = 0;
    bool attached_ = false;
    bool ended_ = false;
    int pending_signal_ = 0;  // a signal delivered to it while held
    std::string why_not_;
};

}  // namespace csd::grade
