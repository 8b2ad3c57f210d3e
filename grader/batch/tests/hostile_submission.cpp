// A hostile submission for the batch test: it never listens, ignores
// SIGTERM, and leaves daemons behind (double fork + setsid) that ignore
// SIGTERM too. csd-batch must grade it low and leave none of them running.
#include <signal.h>
#include <unistd.h>

int main() {
    ::signal(SIGTERM, SIG_IGN);
    for (int i = 0; i < 3; ++i) {
        if (::fork() == 0) {
            ::setsid();
            if (::fork() == 0) {
                for (;;) ::pause();
            }
            ::_exit(0);
        }
    }
    for (;;) ::pause();
}
