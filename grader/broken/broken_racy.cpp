// A thread-per-client lab server built with ThreadSanitizer
// (-fsanitize=thread, grader/broken/CMakeLists.txt), correct except for the
// one bug its name says (broken-BUG, see broken_bug.hpp): what the races
// check runs when the graded program is itself a ThreadSanitizer build.
//
// Its tests (csd_broken_source()): each `test: BUG LAB CHECK [control
// CHECK...]` line makes broken-BUG and the test broken.LAB.CHECK.BUG.
//
//   racy-done      each thread says it has ended through a plain bool that
//                  the main thread reads while the thread runs (the eighth
//                  red-team's racy flag, and the seventh's: full marks, the
//                  server works in every run)                        -> races
//   unjoined       no data race: each thread is started and left joinable;
//                  at the stop main returns without joining them (a thread
//                  leak, which std::thread would abort on: plain pthreads) -> races
//   one-at-a-time  no data race: the main thread serves each client itself,
//                  one at a time (the skeleton's stand-in): nothing runs at
//                  once, so races has nothing to judge and fails it   -> races
//   atomic-done    no bug: the done flag a std::atomic<bool> with release
//                  and acquire, as the thread lab's solution: races must
//                  pass it (variant.thread.races.atomic-done)             -> none
//
// test: racy-done thread races control bytes
// test: unjoined thread races control bytes
// test: one-at-a-time thread races control bytes

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <list>
#include <memory>
#include <string_view>
#include <thread>

#include "broken_bug.hpp"
#include "csd/lab.hpp"

namespace {

std::string_view bug;

/// One connection thread, created with pthread_create so that a thread
/// left unjoined is a pthread, not a std::thread that aborts.
struct Worker {
    int client = -1;
    bool plain_done = false;               // racy-done's flag
    std::atomic<bool> atomic_done{false};  // everyone else's
    pthread_t thread{};
};

bool is_done(Worker& w) {
    if (bug == "racy-done") return w.plain_done;
    return w.atomic_done.load(std::memory_order_acquire);
}

void* connection_thread(void* arg) {
    auto& w = *static_cast<Worker*>(arg);
    try {
        (void)csd::serve_connection(w.client);
    } catch (const std::exception& e) {
        std::cerr << "server thread: " << e.what() << '\n';
    }
    csd::Fd(w.client).reset();
    if (bug == "racy-done") {
        w.plain_done = true;
    } else {
        w.atomic_done.store(true, std::memory_order_release);
    }
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    bug = broken::bug_from_name(argv[0], "racy-done unjoined one-at-a-time atomic-done");
    const csd::ServerOptions options = csd::parse_server_options(argc, argv);
    try {
        csd::route_signals({SIGTERM, SIGINT});
        csd::Fd listener = csd::listen_tcp(options.host, options.port);
        csd::announce_listening(options.host, options.port);
        std::list<std::unique_ptr<Worker>> workers;
        while (!csd::stop_requested()) {
            // Join (and forget) the threads that said they ended.
            for (auto it = workers.begin(); it != workers.end();) {
                if (bug != "unjoined" && is_done(**it)) {
                    ::pthread_join((*it)->thread, nullptr);
                    it = workers.erase(it);
                } else {
                    ++it;
                }
            }
            if (csd::wait_readable(listener.get()) == csd::Wakeup::signal) continue;
            csd::Accepted accepted = csd::accept_connection(listener.get());
            if (accepted.status == csd::AcceptStatus::out_of_descriptors) {
                (void)csd::wait_for_stop(std::chrono::milliseconds(100));
                continue;
            }
            if (!accepted.connection) continue;
            if (bug == "one-at-a-time") {
                (void)csd::serve_connection(accepted.connection.get());
                continue;
            }
            auto w = std::make_unique<Worker>();
            w->client = accepted.connection.release();
            if (::pthread_create(&w->thread, nullptr, connection_thread, w.get()) != 0) {
                csd::Fd(w->client).reset();
                continue;
            }
            workers.push_back(std::move(w));
        }
        listener.reset();
        if (bug == "unjoined") {
            // The threads see the stop and end; main waits for that, not
            // for them (the Workers stay alive: they are never joined).
            for (auto& w : workers) {
                while (!w->atomic_done.load(std::memory_order_acquire)) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
            (void)new std::list<std::unique_ptr<Worker>>(std::move(workers));  // never freed
            return 0;
        }
        for (auto& w : workers) ::pthread_join(w->thread, nullptr);
    } catch (const std::exception& e) {
        std::cerr << "server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
