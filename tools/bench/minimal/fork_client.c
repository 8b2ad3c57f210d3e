/* fork_client.c: the smallest load client of the protocol, in plain C,
 * the way UNP's client.c is written: CHILDREN processes, each opening
 * CONNECTIONS connections one after another, each sending "BYTES\n" and
 * reading BYTES bytes (counted, NOT checked), then closing. csd-bench's
 * page compares csd-client's connections/s with it (docs/designs.md).
 *
 *   fork_client [-i HOST] [-p PORT] [-c CHILDREN] [-t CONNECTIONS] [-b BYTES]
 *
 * Prints "elapsed: S s, R connections/s"; exit status 1 when a
 * connection failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int one_connection(const struct sockaddr_in* address, const char* request,
                          unsigned long long bytes) {
    static char buffer[65536];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr*)address, sizeof *address) < 0) return -1;
    size_t length = strlen(request);
    if (write(fd, request, length) != (ssize_t)length) return -1;
    while (bytes > 0) {
        size_t want = bytes < sizeof buffer ? (size_t)bytes : sizeof buffer;
        ssize_t n = read(fd, buffer, want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        bytes -= (unsigned long long)n;
    }
    close(fd);
    return 0;
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 2000, children = 1, option;
    long connections = 1;
    unsigned long long bytes = 4000;
    while ((option = getopt(argc, argv, "i:p:c:t:b:")) != -1) {
        if (option == 'i')
            host = optarg;
        else if (option == 'p')
            port = atoi(optarg);
        else if (option == 'c')
            children = atoi(optarg);
        else if (option == 't')
            connections = atol(optarg);
        else if (option == 'b')
            bytes = strtoull(optarg, NULL, 10);
        else
            return 2;
    }
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return 2;
    char request[32];
    snprintf(request, sizeof request, "%llu\n", bytes);

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < children; ++i) {
        if (fork() == 0) {
            for (long j = 0; j < connections; ++j)
                if (one_connection(&address, request, bytes) < 0) _exit(1);
            _exit(0);
        }
    }
    int status, failed = 0;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds =
        (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("elapsed: %.3f s, %.1f connections/s\n", seconds,
           (double)children * (double)connections / seconds);
    if (failed) fprintf(stderr, "fork_client: a connection failed\n");
    return failed;
}
