// Lab "prefork": a TCP server with a pool of -n worker processes, forked
// once at start, each accepting on the shared listening socket.
//
// The protocol (docs/contract.md, section 1) is served by
// csd::serve_connection(). This lab is about a pool of processes: the
// handout, labs/prefork/handout.md, explains every step; the TODOs below
// name them ("handout step N").
//
// Given: the command line (-n WORKERS, -m MODE), the listening socket,
// signals routed to a self-pipe, the report printed at shutdown.
// Yours: the shared counters, both accept locks (the robust mutex and the
// record lock), the worker's waits and accept loop in each mode, forking a
// worker, the parent that starts the workers (in mode reuseport each with
// a listening socket of its own), replaces a dead one and ends them all on
// SIGTERM.

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "csd/lab.hpp"

namespace {

/// Largest pool accepted by -n (the size of the shared counters).
constexpr int max_workers = 256;

/// What one worker slot did: written by the worker in that slot, read by
/// the parent at shutdown. Lives in memory shared by all the processes.
struct SlotCounters {
    std::atomic<std::uint64_t> connections{0};      ///< Connections accepted.
    std::atomic<std::uint64_t> useless_wakeups{0};  ///< Wakeups that found no connection.
};

/// The memory every process of the server shares (mmap MAP_SHARED |
/// MAP_ANONYMOUS before the first fork): the accept lock of mode `lock`
/// and the counters of each worker slot.
struct Board {
    pthread_mutex_t accept_lock;      ///< Process-shared, robust (mode `lock`).
    SlotCounters slots[max_workers];  ///< One per worker slot.
};

// Lock-free atomics work between processes: they are plain memory.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Maps the Board shared by the parent and every worker it forks later.
Board* map_board() {
    // TODO(handout step 1): memory that the workers forked later share with
    // the parent (writes in one are seen by all), backed by no file, big
    // enough for a Board: see mmap(2) for the sharing and anonymous flags
    // (csd::check_mmap turns its failure into an exception). Build the Board
    // in it (placement new), then make accept_lock a mutex that works across
    // processes and survives the death of a worker that holds it
    // (pthread_mutexattr_init(3) and the attribute calls of the handout's
    // step 1).
    return new Board{};  // private memory: each process counts in its own copy
}

/// Takes the accept lock; a worker that died holding it does not block
/// the others (robust mutex).
void lock_accept(Board& board) {
    // TODO(handout step 2): take board.accept_lock, waiting while another
    // worker holds it. A robust mutex whose owner died is handed over with
    // EOWNERDEAD: you own it then, and must mark it consistent before it is
    // usable again (pthread_mutex_lock(3), pthread_mutex_consistent(3)); it
    // guards no data, so there is nothing to repair. Any other error throws.
    (void)board;
}

/// The file whose record lock is the accept lock of mode `fcntl`: an
/// unnamed file in memory (memfd_create), inherited by every worker. A
/// record lock belongs to a process, and the kernel releases it when that
/// process ends, however it ends.
csd::Fd open_lock_file() {
    // TODO(handout step 2): a file that exists only to be locked: unnamed,
    // in memory, closed on exec (memfd_create(2)); throw when it cannot be
    // made.
    return csd::Fd{};
}

/// Takes (F_WRLCK) or releases (F_UNLCK) the record lock on the whole of
/// @p lock_file (mode `fcntl`), waiting while another process holds it.
void set_record_lock(int lock_file, short type) {
    // TODO(handout step 2): a record lock of @p type on the whole file,
    // waiting while another process holds it (fcntl(2), "Advisory record
    // locking": which command waits, and what a struct flock of the whole
    // file looks like); a signal may interrupt the wait: go on waiting.
    (void)lock_file;
    (void)type;
}

/// A new listening socket for one worker of mode `reuseport`: with
/// SO_REUSEPORT every worker's socket listens on the same port, and the
/// kernel spreads the incoming connections among them.
csd::Fd own_listener(const csd::ServerOptions& options) {
    // TODO(handout step 3): a listening socket on the server's address and
    // port (-i, -p), blocking, that shares the port with the other workers'
    // (csd::listen_tcp() and its csd::ListenOptions; socket(7),
    // SO_REUSEPORT).
    (void)options;
    return csd::Fd{};
}

/// Blocks until @p listener is readable, in select() (all the waiters wake).
void wait_in_select(int listener) {
    // TODO(handout step 2): sleep in select(2) until @p listener is readable,
    // with no timeout. A signal may interrupt it (EINTR): return, the
    // caller's non-blocking accept then finds nothing. Any other error
    // throws.
    (void)listener;
}

/// An epoll instance watching @p listener (EPOLLEXCLUSIVE when @p exclusive).
csd::Fd watch_listener(int listener, bool exclusive) {
    // TODO(handout step 2): the worker's own epoll instance (close-on-exec),
    // watching @p listener for input, with EPOLLEXCLUSIVE when @p exclusive
    // (epoll_ctl(2): what it asks the kernel to do, and with which
    // operation it may be used). Throw when a call fails.
    (void)listener;
    (void)exclusive;
    return csd::Fd{};
}

/// What the parent gives every worker it starts (set once, before the
/// first fork; read by the parent and, after fork, by each worker).
struct Pool {
    const csd::ServerOptions& options;  ///< -i and -p: where mode reuseport listens.
    std::string mode;                   ///< -m: how a worker waits for a connection.
    int listener;                       ///< The shared listening socket (-1 in mode reuseport).
    int lock_file;                      ///< The accept lock of mode fcntl.
    Board& board;                       ///< The shared memory.
};

/// The body of a worker in slot @p slot, accepting on @p listener: accept
/// and serve, one client after another, until killed. Never returns.
[[noreturn]] void run_worker(const Pool& pool, int listener, SlotCounters& slot) {
    // TODO(handout step 2): forever: wait for a connection the way
    // pool.mode says (accept and reuseport: block in accept(); select /
    // epoll / epoll-exclusive: wait for the listener to be readable, then a
    // non-blocking accept; lock: hold pool.board.accept_lock around a
    // blocking accept, see lock_accept(); fcntl: the same with the record
    // lock on pool.lock_file, see set_record_lock()); count each connection
    // and each wakeup that found none in `slot`; serve the connection,
    // close it, go round.
    (void)pool;
    (void)listener;
    (void)slot;
    (void)lock_accept;  // the helpers: yours to call
    (void)set_record_lock;
    (void)wait_in_select;
    (void)watch_listener;
    for (;;) ::pause();  // a worker that waits for nothing
}

/// Forks the worker of slot @p index, accepting on @p listener; returns its
/// pid (-1 when fork failed).
pid_t start_worker(const Pool& pool, int listener, std::size_t index) {
    // TODO(handout step 2): fork the worker with csd::fork_child() (not a
    // plain fork: the child must not run the parent's signal handlers nor
    // share its stop descriptor). A failed fork is reported on stderr and
    // returns -1 (the slot stays empty). The child makes its own stop
    // descriptor at once (csd::stop_fd()), runs run_worker() with its slot
    // of the Board, and never returns into the parent's code, even when an
    // exception ends it (report it on stderr): it ends with _exit(), status
    // 1 (see man 2 _exit: no atexit handlers, no stdio flush of the
    // parent's buffers).
    (void)pool;
    (void)listener;
    (void)index;
    (void)run_worker;  // yours to call, in the child
    return -1;
}

/// Starts a worker in every empty slot of @p pids (pid 0), and notes its
/// pid in @p last_pids too; false when a fork failed (that slot stays
/// empty: try again later). Mode reuseport: each new worker gets a
/// listening socket of its own, opened before the fork (throws when it
/// cannot be opened).
bool start_workers(const Pool& pool, std::vector<pid_t>& pids, std::vector<pid_t>& last_pids) {
    // TODO(handout step 3): for each empty slot i (pids[i] == 0): in mode
    // reuseport open the worker's own listener (own_listener()), else it
    // accepts on pool.listener; start_worker() forks it; note its pid in
    // pids[i] and last_pids[i]; close the parent's copy of an own listener
    // once the worker is forked. Return false when a fork failed.
    (void)pool;
    (void)pids;
    (void)last_pids;
    (void)start_worker;  // yours to call
    (void)own_listener;
    return true;
}

/// Reaps every ended worker; its slot's pid becomes 0 (to be replaced).
void reap_workers(std::vector<pid_t>& pids) {
    // TODO(handout step 3): reap every worker that has ended, without ever
    // blocking (as the fork lab's parent did, waitpid(2)); set the slot of
    // each reaped pid to 0 so that it is replaced.
    (void)pids;
}

/// Ends every worker (SIGTERM) and waits until all of them are reaped.
void stop_workers(std::vector<pid_t>& pids) {
    // TODO(handout step 4): SIGTERM to every live worker, then waitpid each.
    (void)pids;
}

/// Prints the distribution report (docs/contract.md): one line per slot.
void print_report(const Board& board, const std::vector<pid_t>& last_pids) {
    for (std::size_t i = 0; i < last_pids.size(); ++i) {
        std::cout << "worker " << i << " pid " << last_pids[i] << " connections "
                  << board.slots[i].connections.load() << " useless-wakeups "
                  << board.slots[i].useless_wakeups.load() << '\n';
    }
    std::cout << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
    const csd::ServerOptions options = csd::parse_server_options(
        argc, argv,
        csd::CommandLine{.workers = true,
                         .flags = {csd::LabFlag{
                             .letter = 'm',
                             .help = "how the workers wait for a connection (the thundering herd)",
                             .value_name = "MODE",
                             .choices = {"accept", "select", "epoll", "epoll-exclusive", "lock",
                                         "fcntl", "reuseport"},
                             .default_value = "accept"}}});
    if (options.workers < 1 || options.workers > max_workers) {
        std::cerr << "server: -n must be between 1 and " << max_workers << '\n';
        return 2;
    }
    const std::string mode = options.value('m');
    try {
        csd::route_signals({SIGTERM, SIGINT, SIGCHLD});
        const bool waits_first = mode == "select" || mode == "epoll" || mode == "epoll-exclusive";
        // One listening socket that every worker inherits; none in mode
        // reuseport, where each worker gets its own (start_workers()).
        csd::Fd listener;
        if (mode != "reuseport") {
            listener = csd::listen_tcp(options.host, options.port,
                                       csd::ListenOptions{.nonblocking = waits_first});
        }
        const csd::Fd lock_file = open_lock_file();
        const Pool pool{.options = options,
                        .mode = mode,
                        .listener = listener.get(),
                        .lock_file = lock_file.get(),
                        .board = *map_board()};
        const auto n = static_cast<std::size_t>(options.workers);
        std::vector<pid_t> pids(n, 0);       // 0: no worker in that slot now
        std::vector<pid_t> last_pids(n, 0);  // for the report
        // The first workers start before the server says it is ready: in
        // mode reuseport their listening sockets are its only ones.
        bool all_started = start_workers(pool, pids, last_pids);
        csd::announce_listening(options.host, options.port);

        while (!csd::stop_requested()) {
            // TODO(handout step 3): the parent only supervises. Sleep until
            // a signal (SIGCHLD: reap with reap_workers(); SIGTERM: leave the
            // loop), or 100 ms when a worker could not be started; then
            // start_workers() again, to fill the slots of dead workers.
            (void)all_started;
            (void)reap_workers;  // yours to call
            csd::Accepted client = csd::accept_connection(listener.get());
            if (!client.connection) continue;  // EINTR: SIGTERM, perhaps
            (void)csd::serve_connection(client.connection.get());
        }
        listener.reset();
        stop_workers(pids);
        print_report(pool.board, last_pids);
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
