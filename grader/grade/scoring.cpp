#include "scoring.hpp"

#include <algorithm>

#include "hidden.hpp"

namespace csd::grade {

namespace {

// The event labs: one process and one thread around the lab's call. A server
// that serves correctly another way (a thread per client) passes the
// protocol checks and concurrency, idle-cpu, slow-reader and many: those
// together stay well under half of the lab, so architecture and syscall
// carry most of it.
LabScoring event_lab(std::string_view id) {
    return {.lab = id,
            .lesson = {{"concurrency", 10},
                       {"architecture", 40},
                       {"syscall", 50},
                       {"idle-cpu", 5},
                       {"slow-reader", 10},
                       {"many", 10}},
            .other_points = 2,
            .hints = {{"reset",
                       "the library's write_some() and pump_output() send with MSG_NOSIGNAL, so a "
                       "client that reset comes back as a result (peer gone), never as SIGPIPE: "
                       "close that one client and go on; never throw, exit or leave the loop "
                       "because of one client"}}};
}

}  // namespace

const std::vector<LabScoring>& scorings() {
    static const std::vector<LabScoring> table = {
        // The protocol itself is the lesson: the checks keep their own points.
        {.lab = "iterative",
         .lesson = {{"bytes", 15},
                    {"pipeline", 10},
                    {"split", 5},
                    {"malformed", 10},
                    {"reset", 10},
                    {"architecture", 10}}},
        // The skeleton serves correctly one client at a time (the library's
        // serve_connection()): the protocol checks are worth 2 points each.
        {.lab = "fork",
         .lesson = {{"concurrency", 30},
                    {"zombies", 20},
                    {"fd-leak", 10},
                    {"architecture", 40},
                    {"sigterm", 20}},
         .other_points = 2,
         .hints = {{"reset",
                    "csd::serve_connection() sends with MSG_NOSIGNAL: a client that resets ends "
                    "only the child serving it. The parent must not notice: it never writes to a "
                    "client, reaps that child like any other and keeps accepting"},
                   {"sigterm",
                    "on SIGTERM the parent stops accepting, sends SIGTERM to every child and "
                    "waits for each (again after EINTR), then returns 0. Fork with "
                    "csd::fork_child(), not fork(): a child that gets the parent's SIGTERM before "
                    "it reset its signals runs the parent's handler, the SIGTERM is lost and the "
                    "child serves its idle client for ever"}}},
        // The skeleton serves one client at a time on the main thread: the
        // points are in threads that come and go, bounded by a cap, and all
        // joined on stop.
        {.lab = "thread",
         .lesson = {{"concurrency", 30}, {"architecture", 50}, {"cap", 20}, {"sigterm", 20}},
         .other_points = 2,
         .hints = {{"sigterm",
                    "every connection thread must see the stop: csd::serve_connection() watches "
                    "csd::stop_fd() and returns `stopped`, even for an idle client; then join "
                    "every thread (a std::jthread joins in its destructor) and return 0"}}},
        // The skeleton's pool threads end at once and its main thread serves
        // one client at a time: the points are in the pool and its queue.
        {.lab = "prethread",
         .lesson = {{"concurrency", 20},
                    {"architecture", 50},
                    {"stalled", 20},
                    {"idle-cpu", 10},
                    {"sigterm", 20}},
         .other_points = 2,
         .hints = {{"stalled",
                    "each pool thread serves one client at a time, so -n threads serve -n clients "
                    "at once: push every connection into the one queue the whole pool pops from, "
                    "so the first idle thread takes it; do not hand connections to each thread in "
                    "turn, and hold no lock while serving"},
                   {"idle-cpu",
                    "a pool thread with nothing to do must sleep: wait on a condition variable "
                    "(with a predicate, in a loop), never poll the queue in a loop"},
                   {"sigterm",
                    "on a stop, close the queue: set a flag under the mutex and notify_all(), so "
                    "that every idle pool thread wakes and ends; busy ones see csd::stop_fd() "
                    "in csd::serve_connection(); then join them all and return 0"}}},
        event_lab("select"),
        event_lab("poll"),
        event_lab("epoll"),
        // The skeleton serves one client at a time in the parent: the pool,
        // its supervision and its shared counters are the lesson.
        {.lab = "prefork",
         .lesson = {{"architecture", 40},
                    {"stalled", 20},
                    {"replace", 20},
                    {"distribution", 20},
                    {"sigterm", 10}},
         .other_points = 2},
        // The skeleton serves one client at a time in the parent: the pool,
        // the passing of descriptors and the supervision are the lesson.
        {.lab = "fdpass",
         .lesson = {{"architecture", 40},
                    {"stalled", 20},
                    {"replace", 20},
                    {"distribution", 20},
                    {"sigterm", 10}},
         .other_points = 2},
        // The skeleton answers and closes normally: the abortive close and
        // waiting for the acknowledgement before it are the lesson.
        {.lab = "rst", .lesson = {{"reply", 10}, {"rst", 40}, {"time-wait", 40}, {"sigterm", 10}}},
        // The skeleton sends header and body uncorked: two segments a reply.
        {.lab = "cork",
         .lesson = {{"framing", 10}, {"segments", 40}, {"uncork", 40}, {"sigterm", 10}}},
        // uring: the event labs' weights; and here the I/O is the student's
        // (no pump_input()/pump_output()): a short send resubmitted (bytes)
        // and a recv only while the session wants input (back-pressure) are
        // lessons too.
        {.lab = "uring",
         .lesson = {{"bytes", 15},
                    {"concurrency", 10},
                    {"architecture", 40},
                    {"syscall", 50},
                    {"idle-cpu", 5},
                    {"slow-reader", 10},
                    {"back-pressure", 10},
                    {"many", 10},
                    {"ring-io", 20}},
         .other_points = 2,
         .hints = {{"reset",
                    "send with MSG_NOSIGNAL; a recv or send that completes with -ECONNRESET or "
                    "-EPIPE (cqe->res) ends that one client: close it (cancel what it still has "
                    "in flight) and go on; never leave the loop because of one client"}}},
        // The skeleton serves no byte: the lesson is the file sent by
        // sendfile(2), exact (partial sends) and never through user memory.
        {.lab = "sendfile",
         .lesson = {{"bytes", 20}, {"slow-reader", 15}, {"zero-copy", 40}},
         .other_points = 2,
         .hints = {{"bytes",
                    "byte i of every reply is byte i % SIZE of the file: start each reply at "
                    "offset 0 of the file, wrap at its end, and after a short sendfile() go on "
                    "from the offset it reached, not from where you asked it to start"},
                   {"pipeline",
                    "every reply starts at offset 0 of the file (byte i of a reply is byte i % "
                    "SIZE), not where the previous reply on the connection ended: compute the "
                    "offset from csd::Session::reply_offset(), not from a counter of your own"},
                   {"reset",
                    "sendfile() has no MSG_NOSIGNAL: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) "
                    "and treat EPIPE/ECONNRESET as 'drop this client'"}}},
        // The skeleton's acceptor hangs up on every client: the loops, their
        // threads and the hand-over are the lesson. One epoll loop on one
        // thread (the epoll lab) passes the protocol checks, stalled-loops
        // and sigterm: about a third.
        {.lab = "reactor",
         .lesson = {{"architecture", 50}, {"spread", 40}, {"stalled-loops", 10}, {"sigterm", 10}},
         .other_points = 2},
        // The skeleton reports the reset but dies of SIGPIPE at its write:
        // surviving it and reporting EPIPE are the lesson.
        {.lab = "sigpipe", .lesson = {{"no-sigpipe", 50}, {"epipe", 40}}, .other_points = 10},
        // The skeleton echoes lines but has no answer to SIGUSR1 yet: the
        // signal checks are the lesson.
        {.lab = "selfpipe",
         .lesson = {{"signals", 30}, {"race-window", 40}, {"idle-wakeups", 20}},
         .other_points = 10},
    };
    return table;
}

namespace {

const LabScoring* scoring_of(const LabInfo& lab) {
    const auto& all = scorings();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const LabScoring& s) { return s.lab == lab.id; });
    return it == all.end() ? nullptr : &*it;
}

template <typename Value>
const std::pair<std::string_view, Value>* entry(
    const std::vector<std::pair<std::string_view, Value>>& list, std::string_view id) {
    const auto it =
        std::find_if(list.begin(), list.end(), [&](const auto& e) { return e.first == id; });
    return it == list.end() ? nullptr : &*it;
}

}  // namespace

int check_points(const LabInfo& lab, const CheckInfo& check) {
    if (const HiddenCheck* h = find_hidden_check(lab.id, check.id); h != nullptr && h->points > 0) {
        return h->points;
    }
    const LabScoring* s = scoring_of(lab);
    if (s == nullptr) return check.points;
    if (const auto* e = entry(s->lesson, check.id)) return e->second;
    return s->other_points > 0 ? s->other_points : check.points;
}

bool is_lesson(const LabInfo& lab, std::string_view check) {
    const LabScoring* s = scoring_of(lab);
    return s != nullptr && entry(s->lesson, check) != nullptr;
}

std::string_view check_hint(const LabInfo& lab, const CheckInfo& check) {
    const LabScoring* s = scoring_of(lab);
    if (s == nullptr) return check.hint;
    const auto* e = entry(s->hints, check.id);
    return e == nullptr ? check.hint : e->second;
}

int lab_points(const LabInfo& lab) {
    int total = 0;
    for (const auto id : lab.checks) {
        if (const CheckInfo* c = find_check(id)) total += check_points(lab, *c);
    }
    return total;
}

}  // namespace csd::grade
