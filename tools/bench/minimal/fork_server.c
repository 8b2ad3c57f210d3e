/* fork_server.c: the smallest one-process-per-client server of the
 * protocol (docs/contract.md, section 1), in plain C, the way UNP's
 * serv01 is written: the floor csd-bench compares the fork lab with
 * (docs/designs.md). Not a lab: no caps, no back-pressure care.
 *
 *   fork_server [-i HOST] [-p PORT]
 *
 * SIGTERM: stop accepting, wait for every child, exit 0 (so that the
 * children's CPU time is in the rusage of whoever reaps this server). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (26 * 2520) /* a multiple of 26: every chunk starts at 'a' */

static volatile sig_atomic_t stopping;
static char reply[CHUNK];

static void on_signal(int sig) {
    if (sig == SIGTERM || sig == SIGINT) stopping = 1;
}

static int write_all(int fd, const char* bytes, size_t count) {
    while (count > 0) {
        ssize_t n = write(fd, bytes, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += n;
        count -= (size_t)n;
    }
    return 0;
}

/* Answers every request line of one client until EOF or a bad line. */
static void serve(int fd) {
    char line[64];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, line + used, sizeof line - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        used += (size_t)n;
        char* end;
        while ((end = memchr(line, '\n', used)) != NULL) {
            unsigned long long want = 0;
            char* p = line;
            if (p == end) return;
            for (; p < end && *p >= '0' && *p <= '9'; ++p) want = want * 10 + (unsigned)(*p - '0');
            if (p < end && *p == '\r' && p + 1 == end) ++p;
            if (p != end || want == 0 || want > (1ull << 30)) return;
            while (want > 0) {
                size_t chunk = want < CHUNK ? (size_t)want : CHUNK;
                if (write_all(fd, reply, chunk) < 0) return;
                want -= chunk;
            }
            size_t rest = used - (size_t)(end + 1 - line);
            memmove(line, end + 1, rest);
            used = rest;
        }
        if (used == sizeof line) return; /* a line too long */
    }
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 2000, option;
    while ((option = getopt(argc, argv, "i:p:")) != -1) {
        if (option == 'i')
            host = optarg;
        else if (option == 'p')
            port = atoi(optarg);
        else
            return 2;
    }
    for (int i = 0; i < CHUNK; ++i) reply[i] = (char)('a' + i % 26);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGCHLD, &action, NULL);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1 ||
        bind(listener, (struct sockaddr*)&address, sizeof address) < 0 ||
        listen(listener, 1024) < 0) {
        perror("fork_server");
        return 1;
    }
    printf("Listening on %s:%d\n", host, port);
    fflush(stdout);

    while (!stopping) {
        int client = accept(listener, NULL, NULL);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (client < 0) continue; /* EINTR (a signal) or a client gone */
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            close(listener);
            serve(client);
            _exit(0);
        }
        close(client);
    }
    close(listener);
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return 0;
}
