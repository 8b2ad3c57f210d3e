#include "csd/options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string_view>

namespace csd {
namespace {

/// Throws std::logic_error when the lab's flags cannot be parsed.
void check_lab_flags(const CommandLine& line) {
    std::string seen = "ipnh";
    for (const LabFlag& f : line.flags) {
        if (std::isalnum(static_cast<unsigned char>(f.letter)) == 0 ||
            seen.find(f.letter) != std::string::npos) {
            throw std::logic_error(std::string("lab flag -") + f.letter + " is not a free letter");
        }
        if (!f.value_name.empty() && f.choices.empty() && !f.any_value) {
            throw std::logic_error(std::string("lab flag -") + f.letter + " has no choices");
        }
        seen += f.letter;
    }
}

[[noreturn]] void usage(const char* prog, const CommandLine& line, int status) {
    std::FILE* out = status == 0 ? stdout : stderr;
    std::string synopsis = line.workers ? " [-n WORKERS]" : "";
    for (const LabFlag& f : line.flags) {
        synopsis += std::string(" [-") + f.letter;
        if (!f.value_name.empty()) synopsis += " " + f.value_name;
        synopsis += "]";
    }
    std::fprintf(out, "usage: %s [-i HOST] [-p PORT]%s\n", prog, synopsis.c_str());
    std::fprintf(out, "  -i HOST     %s (default 127.0.0.1)\n",
                 line.client ? "the server's address" : "address to bind");
    std::fprintf(out, "  -p PORT     %s (default 2000)\n",
                 line.client ? "the server's port" : "port to listen on");
    if (line.workers)
        std::fprintf(out, "  -n WORKERS  processes or threads in the pool (default 10)\n");
    for (const LabFlag& f : line.flags) {
        std::string head = std::string("-") + f.letter;
        if (!f.value_name.empty()) head += " " + f.value_name;
        std::string help = f.help;
        if (!f.choices.empty()) {
            help += " (";
            for (std::size_t i = 0; i < f.choices.size(); ++i)
                help += (i ? ", " : "") + f.choices[i];
            if (!f.default_value.empty()) help += "; default " + f.default_value;
            help += ")";
        }
        std::fprintf(out, "  %-11s %s\n", head.c_str(), help.c_str());
    }
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

bool ServerOptions::flag(char letter) const {
    return given.find(letter) != std::string::npos;
}

std::string ServerOptions::value(char letter) const {
    const auto it = values.find(letter);
    return it == values.end() ? std::string() : it->second;
}

ServerOptions parse_server_options(int argc, char** argv, const CommandLine& line) {
    check_lab_flags(line);
    ServerOptions opts;
    const char* prog = argc > 0 ? argv[0] : "server";
    std::string spec = line.workers ? ":i:p:n:h" : ":i:p:h";
    for (const LabFlag& f : line.flags) {
        spec += f.letter;
        if (!f.value_name.empty()) {
            spec += ':';
            opts.values[f.letter] = f.default_value;
        }
    }
    ::optind = 1;
    int c = 0;
    while ((c = ::getopt(argc, argv, spec.c_str())) != -1) {
        switch (c) {
            case 'i':
                opts.host = ::optarg;
                break;
            case 'p':
                if (!parse_number<std::uint16_t>(::optarg, 1, 65535, opts.port)) {
                    std::fprintf(stderr, "%s: -p wants a port from 1 to 65535, not '%s'\n", prog,
                                 ::optarg);
                    usage(prog, line, 2);
                }
                break;
            case 'n':
                if (!parse_number<int>(::optarg, 1, 1024, opts.workers)) {
                    std::fprintf(stderr, "%s: -n wants a number from 1 to 1024, not '%s'\n", prog,
                                 ::optarg);
                    usage(prog, line, 2);
                }
                break;
            case 'h':
                usage(prog, line, 0);
            case ':':
                std::fprintf(stderr, "%s: -%c wants a value\n", prog, ::optopt);
                usage(prog, line, 2);
            default: {
                const auto f = std::find_if(line.flags.begin(), line.flags.end(),
                                            [c](const LabFlag& x) { return x.letter == c; });
                if (c == '?' || f == line.flags.end()) {
                    std::fprintf(stderr, "%s: bad option '-%c'\n", prog, ::optopt);
                    usage(prog, line, 2);
                }
                if (!f->value_name.empty()) {
                    const std::string value = ::optarg;
                    const bool taken = f->any_value
                                           ? !value.empty()
                                           : std::find(f->choices.begin(), f->choices.end(),
                                                       value) != f->choices.end();
                    if (!taken) {
                        std::fprintf(stderr, "%s: -%c does not take '%s'\n", prog, f->letter,
                                     ::optarg);
                        usage(prog, line, 2);
                    }
                    opts.values[f->letter] = value;
                }
                if (!opts.flag(f->letter)) opts.given += f->letter;
            }
        }
    }
    if (::optind != argc) {
        std::fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[::optind]);
        usage(prog, line, 2);
    }
    return opts;
}

void announce_listening(const std::string& host, std::uint16_t port) {
    std::cout << "Listening on " << host << ':' << port << std::endl;  // endl: flush for a pipe
}

}  // namespace csd
