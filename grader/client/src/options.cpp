#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "csd/protocol.hpp"

namespace csd::client {

ClientOptions parse_client_options(int argc, char** argv) {
    ClientOptions options;
    CLI::App app{
        "csd-client: opens connections to a lab server, asks each for BYTES bytes and checks\n"
        "every reply byte for byte. Exit status 0 when every reply was exact, 1 otherwise,\n"
        "2 on a usage error."};
    app.add_option("-i,--host", options.host, "Server address")->capture_default_str();
    app.add_option("-p,--port", options.port, "Server port")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    app.add_option("-c,--children", options.children, "Client processes to fork")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("-t,--connections", options.connections,
                   "Connections per child, one after another (with --concurrent: rounds)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
        ->capture_default_str();
    app.add_option("-b,--bytes", options.bytes, "Bytes asked for in each request")
        ->check(CLI::Range(std::uint64_t{1}, csd::max_request_bytes))
        ->capture_default_str();
    app.add_option("--concurrent", options.concurrent,
                   "Connections each child keeps open at once (epoll, one process); "
                   "-t then counts rounds")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}));
    app.add_option("--timeout", options.timeout_s, "Deadline of each connection, in seconds")
        ->check(CLI::Range(0.001, 3600.0))
        ->capture_default_str();
    app.add_flag("-q,--quiet", options.quiet, "No summary; failures are still printed");
    app.add_flag("--count-only", options.count_only,
                 "Count the reply bytes only (content NOT checked) and close once BYTES arrived, "
                 "as UNP's client.c: for servers outside the contract");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        std::exit(2);
    }
    return options;
}

}  // namespace csd::client
