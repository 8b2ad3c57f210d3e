#pragma once
/// @file server_process.hpp
/// @brief One server run: started as a child of csd-bench, stopped with
/// SIGTERM, reaped with wait4() for its resource usage.

#include <sys/types.h>

#include <string>
#include <vector>

namespace csd::bench {

/// What a server cost, from the rusage wait4() returns when it is reaped:
/// the server and every child and thread it reaped itself (the
/// RUSAGE_CHILDREN semantics UNP measures with).
struct ServerUsage {
    double cpu_s = 0;         ///< User + system CPU time, in seconds.
    long peak_rss_kib = 0;    ///< ru_maxrss: the largest single process, in KiB.
    bool clean_exit = false;  ///< Exited with status 0 after SIGTERM within 5 s.
    std::string how;          ///< "exited with status 0", "killed by signal 9"...
};

/// A server started as a child process in its own process group, stdout
/// and stderr into @p log_file. Owns the process: the destructor kills
/// (SIGKILL, the whole group) and reaps it if stop() was not called.
/// Main thread only.
class ServerProcess {
  public:
    /// Starts @p argv (argv[0] searched in PATH when it has no '/').
    /// Throws std::system_error when fork fails.
    ServerProcess(const std::vector<std::string>& argv, const std::string& log_file);
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;
    ~ServerProcess();

    /// True once the server has ended (left unreaped for stop()). Does not
    /// wait. (csd::launch::start_on_free_port() waits until it listens.)
    [[nodiscard]] bool ended() const;

    /// SIGTERM, then reaps the server (SIGKILL to its group after 5 s),
    /// kills what is left of its process group, returns its usage.
    [[nodiscard]] ServerUsage stop();

  private:
    pid_t pid_ = -1;
};

}  // namespace csd::bench
