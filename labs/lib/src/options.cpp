#include "csd/options.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

namespace csd {
namespace {

[[noreturn]] void usage(const char* prog, bool with_workers, int status) {
    std::FILE* out = status == 0 ? stdout : stderr;
    std::fprintf(out, "usage: %s [-i HOST] [-p PORT]%s\n", prog, with_workers ? " [-n WORKERS]" : "");
    std::fprintf(out, "  -i HOST     address to bind (default 127.0.0.1)\n");
    std::fprintf(out, "  -p PORT     port to listen on (default 2000)\n");
    if (with_workers) std::fprintf(out, "  -n WORKERS  processes or threads in the pool (default 10)\n");
    std::exit(status);
}

template <typename T>
bool parse_number(std::string_view text, T min, T max, T& out) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
        return false;
    }
    out = value;
    return true;
}

}  // namespace

ServerOptions parse_server_options(int argc, char** argv, bool with_workers) {
    ServerOptions opts;
    const char* prog = argc > 0 ? argv[0] : "server";
    const char* spec = with_workers ? ":i:p:n:h" : ":i:p:h";
    ::optind = 1;
    int c = 0;
    while ((c = ::getopt(argc, argv, spec)) != -1) {
        switch (c) {
            case 'i':
                opts.host = ::optarg;
                break;
            case 'p':
                if (!parse_number<std::uint16_t>(::optarg, 1, 65535, opts.port)) {
                    std::fprintf(stderr, "%s: -p wants a port from 1 to 65535, not '%s'\n", prog, ::optarg);
                    usage(prog, with_workers, 2);
                }
                break;
            case 'n':
                if (!parse_number<int>(::optarg, 1, 1024, opts.workers)) {
                    std::fprintf(stderr, "%s: -n wants a number from 1 to 1024, not '%s'\n", prog, ::optarg);
                    usage(prog, with_workers, 2);
                }
                break;
            case 'h':
                usage(prog, with_workers, 0);
            default:
                std::fprintf(stderr, "%s: bad option '-%c'\n", prog, ::optopt);
                usage(prog, with_workers, 2);
        }
    }
    if (::optind != argc) {
        std::fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[::optind]);
        usage(prog, with_workers, 2);
    }
    return opts;
}

void announce_listening(const std::string& host, std::uint16_t port) {
    std::cout << "Listening on " << host << ':' << port << std::endl;  // endl: flush for a pipe
}

}  // namespace csd
