#include "scoring.hpp"

#include <algorithm>

#include "hidden.hpp"

namespace csd::grade {

namespace {

// The event labs' reset hint: the library's pumps send with MSG_NOSIGNAL.
std::vector<std::pair<std::string_view, std::string_view>> event_lab_hints() {
    return {{"reset",
             "the library's write_some() and pump_output() send with MSG_NOSIGNAL, so a "
             "client that reset comes back as a result (peer gone), never as SIGPIPE: "
             "close that one client and go on; never throw, exit or leave the loop "
             "because of one client"}};
}

}  // namespace

const std::vector<LabHints>& lab_hints() {
    static const std::vector<LabHints> table = {
        {.lab = "select", .hints = event_lab_hints()},
        {.lab = "poll", .hints = event_lab_hints()},
        {.lab = "epoll", .hints = event_lab_hints()},
        {.lab = "fork",
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
        {.lab = "thread",
         .hints = {{"sigterm",
                    "every connection thread must see the stop: csd::serve_connection() watches "
                    "csd::stop_fd() and returns `stopped`, even for an idle client; then join "
                    "every thread (a std::jthread joins in its destructor) and return 0"},
                   {"emfile",
                    "when accept fails with EMFILE or ENFILE (csd::AcceptStatus::"
                    "out_of_descriptors), wait a while for the stop (as at the cap), then wait "
                    "for the listening socket and accept again: at once it would fail again "
                    "and spin"}}},
        {.lab = "prethread",
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
        {.lab = "fdpass",
         .hints = {{"stalled",
                    "each worker serves one client at a time, so -n workers serve -n clients at "
                    "once: the parent passes each new connection to a worker that said it is "
                    "free (on its channel), never to a busy one, not even in turn"},
                   {"distribution",
                    "count each connection in the slot of the worker that served it, in memory "
                    "shared by the parent and the workers (mmap MAP_SHARED | MAP_ANONYMOUS "
                    "before the first fork, std::atomic), or in the parent as it passes them; "
                    "after reaping the workers print one line per slot (docs/contract.md)"}}},
        {.lab = "uring",
         .hints = {{"reset",
                    "send with MSG_NOSIGNAL; a recv or send that completes with -ECONNRESET or "
                    "-EPIPE (cqe->res) ends that one client: close it (cancel what it still has "
                    "in flight) and go on; never leave the loop because of one client"}}},
        {.lab = "reactor",
         .hints = {{"emfile",
                    "when a loop's accept fails with EMFILE or ENFILE, that loop stops "
                    "watching its listening socket for a while (epoll_wait's timeout ends the "
                    "pause) and goes on serving its clients, then watches it again: at once it "
                    "would spin, never it would strand the clients queued on it"}}},
        {.lab = "sendfile",
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
    };
    return table;
}

namespace {

const LabHints* hints_of(const LabInfo& lab) {
    const auto& all = lab_hints();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const LabHints& h) { return h.lab == lab.id; });
    return it == all.end() ? nullptr : &*it;
}

const CourseCheck* scored(const LabInfo& lab, std::string_view check) {
    const auto it = std::find_if(lab.scoring.begin(), lab.scoring.end(),
                                 [&](const CourseCheck& c) { return c.id == check; });
    return it == lab.scoring.end() ? nullptr : &*it;
}

}  // namespace

int check_points(const LabInfo& lab, const CheckInfo& check) {
    if (const HiddenCheck* h = find_hidden_check(lab.id, check.id); h != nullptr && h->points > 0) {
        return h->points;
    }
    if (const CourseCheck* c = scored(lab, check.id)) return c->points;
    return check.points;
}

bool is_lesson(const LabInfo& lab, std::string_view check) {
    const CourseCheck* c = scored(lab, check);
    return c != nullptr && c->lesson;
}

std::string_view check_hint(const LabInfo& lab, const CheckInfo& check) {
    if (const LabHints* h = hints_of(lab)) {
        for (const auto& [id, hint] : h->hints) {
            if (id == check.id) return hint;
        }
    }
    return check.hint;
}

int lab_points(const LabInfo& lab) {
    int total = 0;
    for (const auto id : lab.checks) {
        if (const CheckInfo* c = find_check(id)) total += check_points(lab, *c);
    }
    return total;
}

}  // namespace csd::grade
