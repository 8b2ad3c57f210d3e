#include "registry.hpp"

#include <algorithm>

#include "checks/checks.hpp"
#include "csd/grade/course_labs.hpp"
#include "hidden.hpp"

namespace csd::grade {
namespace {

// How each gradable lab is graded; ids, titles and order come from
// labs/labs.txt (course_labs.hpp), the test-only labs come last.
const std::vector<LabInfo>& lab_details() {
    static const std::vector<LabInfo> table = {
        {.id = "iterative",
         .available = true,
         .model = Model::single_process,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "load", "fd-leak", "architecture", "sigterm"}},
        {.id = "fork",
         .available = true,
         .model = Model::process_per_connection,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "concurrency", "load", "zombies", "fd-leak", "architecture", "sigterm"}},
        {.id = "select",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"select", "pselect6"},
         .many_connections = 1000,
         .fd_setsize_limit = true,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "load", "fd-leak", "architecture", "syscall", "idle-cpu", "slow-reader",
                    "back-pressure", "many", "sigterm"}},
        {.id = "poll",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"poll", "ppoll"},
         .many_connections = 5000,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "load", "fd-leak", "architecture", "syscall", "idle-cpu", "slow-reader",
                    "back-pressure", "many", "sigterm"}},
        {.id = "epoll",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"epoll_wait", "epoll_pwait", "epoll_pwait2"},
         .needs_eventpoll = true,
         .many_connections = 10000,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "load", "fd-leak", "architecture", "syscall", "idle-cpu", "slow-reader",
                    "back-pressure", "many", "sigterm"}},
        {.id = "thread",
         .available = true,
         .model = Model::thread_per_connection,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "concurrency", "load", "fd-leak", "architecture", "cap", "sigterm"},
         .thread_cap = 256},
        // A pool of -n threads in three modes (labs/labs.txt: which checks
        // run in which).
        {.id = "prethread",
         .available = true,
         .model = Model::thread_pool,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "concurrency", "load", "fd-leak", "architecture", "stalled", "idle-cpu",
                    "sigterm"}},
        // A pool of -n processes: every mode of -m (labs/labs.txt) is
        // graded by some check.
        {.id = "prefork",
         .available = true,
         .model = Model::process_pool,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "load", "zombies", "fd-leak", "architecture", "stalled", "replace",
                    "distribution", "sigterm"}},
        {.id = "fdpass",
         .available = true,
         .model = Model::descriptor_passing,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "back-pressure",
                    "load", "zombies", "fd-leak", "architecture", "stalled", "replace",
                    "distribution", "sigterm"}},
        // One request per connection, then an RST: the close is the lesson.
        {.id = "rst",
         .available = true,
         .model = Model::single_process,
         .checks = {"start", "reply", "rst", "time-wait", "sigterm"}},
        // A header line and a body per reply, corked into one segment.
        {.id = "cork",
         .available = true,
         .model = Model::single_process,
         .checks = {"start", "framing", "segments", "uncork", "sigterm"},
         .reply = Reply::header_line},
        // The replies cycle through a random file the grader makes (-f PATH):
        // every check that reads replies checks them against it.
        {.id = "sendfile",
         .available = true,
         .model = Model::event_loop,
         .wait_calls = {"epoll_wait", "epoll_pwait", "epoll_pwait2"},
         .needs_eventpoll = true,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "architecture", "syscall", "idle-cpu", "slow-reader", "back-pressure",
                    "zero-copy", "sigterm"},
         .reply = Reply::served_file},
        // -n event loops, a thread and an epoll instance each, in the
        // modes handoff and reuseport (labs/labs.txt).
        {.id = "reactor",
         .available = true,
         .model = Model::reactor,
         .many_connections = 10000,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "fd-leak", "architecture", "stalled-loops", "idle-cpu", "slow-reader",
                    "back-pressure", "load", "spread", "many", "sigterm"}},
        // io_uring (through liburing): the event loop's checks, with the
        // architecture seen as a ring and no epoll, and the idle wait in
        // io_uring_enter.
        {.id = "uring",
         .available = true,
         .model = Model::io_uring_loop,
         .wait_calls = {"io_uring_enter"},
         .many_connections = 10000,
         .checks = {"start", "bytes", "pipeline", "split", "malformed", "reset", "concurrency",
                    "load", "fd-leak", "architecture", "syscall", "idle-cpu", "slow-reader",
                    "back-pressure", "many", "ring-io", "sigterm"},
         .needs_io_uring = true},
        // Programs, not servers (docs/contract.md section 6): each check
        // runs the program as often as it needs.
        {.id = "sigpipe", .available = true, .checks = {"read-reset", "no-sigpipe", "epipe"}},
        {.id = "selfpipe",
         .available = true,
         .checks = {"lines", "signals", "race-window", "idle-wakeups"}},
        // Test-only labs (hidden from --list and the course): they prove the
        // architecture models of the coming labs on the servers of
        // grader/tests/models.cpp until those labs have solutions.
        {.id = "test-pool",
         .title = "Test only: a fixed pool of -n worker processes",
         .available = true,
         .model = Model::process_pool,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
        {.id = "test-thread",
         .title = "Test only: one thread per connection",
         .available = true,
         .model = Model::thread_per_connection,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .hidden = true},
        {.id = "test-thread-pool",
         .title = "Test only: a fixed pool of -n threads",
         .available = true,
         .model = Model::thread_pool,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
        {.id = "test-fdpass",
         .title = "Test only: the parent passes each connection to one of -n workers",
         .available = true,
         .model = Model::descriptor_passing,
         .checks = {"start", "bytes", "split", "fd-leak", "architecture", "sigterm"},
         .workers = 4,
         .hidden = true},
    };
    return table;
}

// Adds the hidden checks of @p lab (hidden.hpp) to its list, each right
// before the check it names (or last).
void add_hidden_checks(LabInfo& lab) {
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.lab != lab.id) continue;
        const auto at = std::find(lab.checks.begin(), lab.checks.end(), h.before);
        lab.checks.insert(h.before.empty() ? lab.checks.end() : at, h.check.id);
    }
}

}  // namespace

const std::vector<LabInfo>& labs() {
    static const std::vector<LabInfo> table = [] {
        std::vector<LabInfo> all;
        const auto& details = lab_details();
        for (const CourseLab& course : course_labs) {
            const auto it = std::find_if(details.begin(), details.end(),
                                         [&](const LabInfo& l) { return l.id == course.id; });
            LabInfo lab = it == details.end() ? LabInfo{.id = course.id} : *it;
            lab.title = course.title;
            lab.available = course.ready && it != details.end();
            lab.kind = course.program ? LabKind::program : LabKind::server;
            lab.workers = course.workers;
            lab.modes = course.modes;
            add_hidden_checks(lab);
            all.push_back(std::move(lab));
        }
        for (const LabInfo& lab : details) {
            if (lab.hidden) all.push_back(lab);
        }
        return all;
    }();
    return table;
}

const std::vector<CheckInfo>& checks() {
    static const std::vector<CheckInfo> table = {
        {"start",
         5,
         check_start,
         "the server accepts within 5 s and prints `Listening on 127.0.0.1:PORT` on stdout",
         "bind and listen first, then print exactly \"Listening on HOST:PORT\" with the -i and "
         "-p you were given, followed by a newline, and flush stdout (std::endl or fflush); "
         "logs go to stderr",
         {},
         Lifecycle::first},
        {"bytes",
         15,
         check_bytes,
         "exact replies of 1 B to 1 GiB, every byte checked, also through a 4 KiB receive window; "
         "EOF after a half-close",
         "write() may write less than asked: loop, and continue from where you stopped, not "
         "from the start of your buffer. Byte i of every reply is 'a' + i % 26, counted from "
         "the start of that reply. After the client half-closes, finish what you owe, then "
         "close",
         {"cpu"}},
        {"pipeline", 10, check_pipeline,
         "several requests on one connection, one by one and pipelined; \\r\\n accepted",
         "one read may hold several requests, or part of one: keep a buffer per connection, "
         "answer every complete line in it in order, keep the rest for the next read; a \\r "
         "right before the \\n is allowed"},
        {"split", 5, check_split, "a request arriving in 2 and in 3 TCP segments",
         "TCP is a byte stream, not messages: a request may arrive in pieces; keep the bytes of "
         "an unfinished line until its \\n arrives"},
        {"malformed", 10, check_malformed,
         "34 bad requests, each on its own connection, get no reply and a closed connection; "
         "the valid edge cases (32-byte lines, N = 1073741824) are answered",
         "accept digits only, 1 <= N <= 1073741824, at most 32 bytes before the \\n (a \\r "
         "before it allowed); otherwise close that connection without replying and go on "
         "serving the others. Check the limit while parsing, so a long number cannot overflow"},
        {"reset", 10, check_reset,
         "clients resetting mid-reply, one after a half-close (SIGPIPE), do not kill the server",
         "ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL; treat "
         "EPIPE/ECONNRESET as 'drop this client', not as a fatal error"},
        {"concurrency",
         10,
         check_concurrency,
         "a client that sent half a request does not delay another client",
         "never wait for one client while others are waiting: a client that sent half a line "
         "must not stop the server from accepting and serving the next one",
         {"cpu"}},
        {"load",
         10,
         check_load,
         "csd-client: 5 processes x 200 connections of 4000 bytes",
         "run the same csd-client command yourself (see saw:) against your server to "
         "reproduce; look at your server's stderr",
         {"connections", "cpu"}},
        {"zombies", 5, check_zombies, "no zombie child remains after 50 connections",
         "a server that forks must reap every child: SIGCHLD wakes you, then "
         "waitpid(-1, &st, WNOHANG) in a loop until it returns 0 (one SIGCHLD may stand for "
         "several children); a single-process server must not fork at all"},
        {"fd-leak",
         5,
         check_fd_leak,
         "the descriptor count returns to its idle value after 2100 connections",
         "close every descriptor you are done with on every path: after a reply, after a "
         "malformed request, after EPIPE/ECONNRESET, and (fork) the connected socket in the "
         "parent right after fork()",
         {"connections", "cpu"}},
        {"architecture", 10, check_architecture,
         "processes and threads as the lab requires (seen in /proc)",
         "build the server the way the handout asks"},
        {"syscall",
         5,
         check_syscall,
         "200 idle clients: the server sleeps in the lab's call, on all of them, and stays asleep",
         "when there is nothing to do, block in the lab's call (select, poll or epoll_wait), "
         "not in accept(), read() or a sleep",
         {"cpu"}},
        {"idle-cpu",
         5,
         check_idle_cpu,
         "less than 5% CPU with 5 idle clients",
         "do not busy-wait: block without a timeout (or a long one), and only ask to be woken "
         "for writability while you have something to write",
         {"cpu"}},
        {"slow-reader",
         10,
         check_slow_reader,
         "clients that do not read a 256 KiB (small window) or 64 MiB reply do not block "
         "another client",
         "never block on one client's write: use non-blocking sockets, send what fits, keep "
         "your position, and wait for writability only for clients with pending output",
         {"cpu"}},
        {"back-pressure",
         10,
         check_back_pressure,
         "a client pipelining requests for 400 MiB and more without reading grows the server's "
         "memory by less than 48 MiB; others are still served",
         "stop reading from a client while it has many requests waiting for their replies "
         "(csd::Session::wants_input()); never build a reply in memory",
         {"cpu"}},
        {"many",
         10,
         check_many,
         "thousands of connections held open at once",
         "keep per-client state in a structure that grows with the number of clients, and do "
         "not stop accepting while you can serve",
         {"connections", "cpu"}},
        {"zero-copy",
         20,
         check_zero_copy,
         "56 MiB of replies leave by sendfile(2) (or splice): strace sees no read or write "
         "call move the file's bytes",
         "send the file with sendfile(sock, file, &offset, count): the kernel moves the bytes "
         "from the page cache to the socket. A read()/write() loop, or write() from an mmap of "
         "the file, copies every byte through your memory",
         {"cpu"}},
        {"ring-io",
         10,
         check_ring_io,
         "uring: with strace attached while 31 clients are served, the server makes no accept, "
         "read, recv, write, send or wait call on a socket itself",
         "submit every accept, recv and send as a ring request (io_uring_prep_multishot_accept, "
         "io_uring_prep_recv, io_uring_prep_send) and use what its completion says; do not make "
         "the call yourself, not even after a poll request said the socket was ready",
         {"cpu"}},
        {"stalled",
         10,
         check_stalled,
         "with -n N workers, N-1 clients that sent half a request do not stop the N-th from "
         "being served",
         "each worker serves one client at a time, so N workers serve N clients at once; hold "
         "nothing the other workers wait for (the accept lock) while you serve",
         {"cpu"}},
        {"cap",
         10,
         check_cap,
         "a flood of idle clients beyond the thread cap: the thread count reaches the cap and "
         "stays there; the clients beyond it are served once the flood leaves",
         "keep at most the cap of connection threads (docs/contract.md, section 2): with that "
         "many alive, stop accepting until one ends; a client beyond the cap waits in the listen "
         "queue, never close or refuse it because of the cap",
         {"connections", "cpu"}},
        {"replace",
         10,
         check_replace,
         "a worker killed with SIGKILL under load is replaced within 2 s, and so is one killed "
         "while it waits in accept (holding the accept lock, if the workers take one); every "
         "request after that is served",
         "on SIGCHLD, reap the dead worker (waitpid(-1, &st, WNOHANG) in a loop) and fork a new "
         "one in its slot; the parent never exits because a worker did",
         {"cpu"}},
        {"distribution",
         10,
         check_distribution,
         "after SIGTERM, one distribution line per worker that add up to the connections made",
         "count each connection in memory shared by all the processes (mmap MAP_SHARED | "
         "MAP_ANONYMOUS before the first fork, std::atomic); after reaping the workers print "
         "one line per slot in the format of docs/contract.md",
         {},
         Lifecycle::ends_server},
        {"spread", 10, check_spread,
         "reactor: 10 x -n connections held open: every loop's epoll set watches some of them "
         "(/proc/PID/fdinfo) and every loop's thread woke up to serve them",
         "every loop must get connections: with -m reuseport each loop has a listening socket of "
         "its own (SO_REUSEPORT) that only its epoll set watches; with -m handoff the acceptor "
         "hands the connections to the loops in turn"},
        {"stalled-loops",
         10,
         check_stalled_loops,
         "reactor: -n - 1 clients leave a 64 MiB reply unread (narrow window); 2 x -n clients "
         "after them, one after another, are each served within 2 s",
         "a loop never waits for one client: non-blocking sockets, write what fits, keep your "
         "position, watch EPOLLOUT only while something is owed; a loop blocked in write() stops "
         "every client it serves",
         {"cpu"}},
        {"reply", 10, check_one_reply,
         "rst: one request per connection gets its exact reply (1 B to 16 MiB, also through a "
         "4 KiB receive window), then the server ends the connection",
         "answer the one request of each connection, then end it yourself. An abortive close "
         "throws away what the send queue still holds: wait until the reply is acknowledged "
         "(ioctl SIOCOUTQ returns 0) before it"},
        {"rst", 10, check_rst,
         "rst: after the reply, the client's read() fails with ECONNRESET, not EOF",
         "set SO_LINGER to {l_onoff = 1, l_linger = 0} on the connected socket, then close() "
         "it: the kernel sends an RST instead of a FIN"},
        {"time-wait", 10, check_time_wait,
         "rst: 20 connections leave no socket in TIME_WAIT on the server's port "
         "(/proc/net/tcp)",
         "the side that closes first with a FIN keeps the connection in TIME_WAIT for 60 s; "
         "an abortive close (SO_LINGER {1, 0}) leaves none"},
        {"framing", 10, check_framing,
         "cork: each reply is the header line \"N\\n\" then N exact bytes (1 B to 16 MiB, "
         "pipelined, after a half-close)",
         "write the header line (N in decimal without leading zeros, then '\\n'), then the "
         "N bytes of the reply; answer every complete request in order"},
        {"segments", 10, check_segments,
         "cork: 10 small replies, one at a time: at least 8 arrive as one TCP segment each "
         "(TCP_INFO tcpi_data_segs_in of the grader's socket); with strace attached, each "
         "header is written by a call of its own",
         "with TCP_NODELAY each write leaves as its own segment: set TCP_CORK before the "
         "header and clear it after the body, so the kernel sends the reply as one segment"},
        {"uncork",
         10,
         check_uncork,
         "cork: 10 small replies, one at a time: at least 8 arrive in one segment within "
         "100 ms of their request",
         "clear TCP_CORK right after the body, on every path: a reply left corked waits for "
         "the kernel's 200 ms cork timer",
         {"cpu"}},
        {"read-reset", 10, check_read_reset,
         "20 runs against a server that resets the connection after the first line: the first "
         "thing printed is `read: ECONNRESET`",
         "send your line, then read: the server answers with an RST, so read() fails with "
         "ECONNRESET; print \"read: ECONNRESET\" and flush"},
        {"no-sigpipe", 10, check_no_sigpipe,
         "20 runs: writing after the reset does not kill the program (SIGPIPE); it exits with "
         "status 0",
         "a write to a connection that was reset raises SIGPIPE, whose default action kills the "
         "process: ignore it (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and the "
         "write fails with EPIPE instead"},
        {"epipe", 10, check_epipe,
         "20 runs: stdout is exactly `read: ECONNRESET` then `write: EPIPE`",
         "after the failed read, write your line again: it fails with EPIPE; print \"write: "
         "EPIPE\" (the errno's name, not strerror's text), flush, and return 0"},
        {"lines", 10, check_lines,
         "every stdin line comes back as `line: TEXT` (also lines in pieces), then `end of "
         "input` and exit status 0 at EOF",
         "keep the bytes of an unfinished line until its \\n arrives; print and flush one line "
         "per line read (docs/contract.md section 6)"},
        {"signals",
         10,
         check_signals,
         "300 fresh runs, SIGUSR1 at a random moment each: `got SIGUSR1` and exit status 0 "
         "within 100 ms (all but 10 runs) and 1.5 s (every run)",
         "the handler only writes a byte to the self-pipe; select() watches stdin and the "
         "pipe's read end; when the pipe is readable print \"got SIGUSR1\", flush and return 0",
         {"cpu"}},
        {"race-window",
         10,
         check_race_window,
         "SIGUSR1 sent inside the -w window (after the flag was checked, before select) is still "
         "answered at once",
         "a flag checked before select() misses a signal that comes between the check and the "
         "call: select() then sleeps forever. Let the signal make a descriptor readable (the "
         "self-pipe), so select() returns even when the signal came before it",
         {"cpu"}},
        {"idle-wakeups",
         10,
         check_idle_wakeups,
         "idle for 1 s, the program wakes up at most 3 times, then still answers SIGUSR1",
         "block in select() with no timeout (a null timeout pointer): a timeout that lets you "
         "look at the flag now and then wakes the program up for nothing and still answers late",
         {"cpu"}},
        {"sigterm",
         10,
         check_sigterm,
         "SIGTERM ends the whole server (children too) with exit status 0 within 2 s, even "
         "while clients keep connecting",
         "on SIGTERM: stop accepting, close the listening socket, close your clients (and, if "
         "you forked, end and reap your children), then return 0 from main, all within 2 s. A "
         "handler should only set a "
         "flag or write to a self-pipe; EINTR from a blocking call means 'check the flag'",
         {},
         Lifecycle::ends_server},
    };
    return table;
}

const LabInfo* find_lab(std::string_view id) {
    const auto& all = labs();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const LabInfo& l) { return l.id == id; });
    return it == all.end() ? nullptr : &*it;
}

const CheckInfo* find_check(std::string_view id) {
    const auto& all = checks();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const CheckInfo& c) { return c.id == id; });
    if (it != all.end()) return &*it;
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.check.id == id) return &h.check;
    }
    return nullptr;
}

const HiddenCheck* find_hidden_check(std::string_view lab, std::string_view check) {
    for (const HiddenCheck& h : hidden_checks()) {
        if (h.lab == lab && h.check.id == check) return &h;
    }
    return nullptr;
}

bool is_hidden_check(std::string_view check) {
    const auto& all = hidden_checks();
    return std::any_of(all.begin(), all.end(),
                       [&](const HiddenCheck& h) { return h.check.id == check; });
}

const LabMode* check_mode(const LabInfo& lab, std::string_view check) {
    // The first mode is the default: no check names it, none needs a flag.
    for (std::size_t i = 1; i < lab.modes.size(); ++i) {
        const auto& checks = lab.modes[i].checks;
        if (std::find(checks.begin(), checks.end(), check) != checks.end()) return &lab.modes[i];
    }
    return nullptr;
}

std::vector<std::string> server_args(const LabInfo& lab, std::string_view check) {
    std::vector<std::string> args;
    if (lab.workers > 0) {
        args.emplace_back("-n");
        args.push_back(std::to_string(lab.workers));
    }
    if (const LabMode* mode = check_mode(lab, check)) {
        for (const auto a : mode->args) args.emplace_back(a);
    }
    return args;
}

std::string handout_path(const LabInfo& lab) {
    return "labs/" + std::string(lab.id) + "/handout.md";
}

Selection select_checks(const LabInfo& lab, const std::vector<std::string>& wanted) {
    Selection sel;
    for (const auto& w : wanted) {
        if (std::find(lab.checks.begin(), lab.checks.end(), w) == lab.checks.end()) {
            std::string ids;
            for (const auto id : lab.checks) {
                if (!ids.empty()) ids += ' ';
                ids += id;
            }
            sel.error =
                "'" + w + "' is not a check of lab " + std::string(lab.id) + "; its checks: " + ids;
            return sel;
        }
    }
    for (const auto id : lab.checks) {
        const CheckInfo* check = find_check(id);
        const bool chosen = wanted.empty() || check->lifecycle == Lifecycle::first ||
                            std::find(wanted.begin(), wanted.end(), id) != wanted.end();
        if (chosen) sel.checks.push_back(check);
    }
    return sel;
}

}  // namespace csd::grade
