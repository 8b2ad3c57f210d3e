#include "child.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <system_error>

#include "concurrent.hpp"
#include "connection.hpp"
#include "record.hpp"

namespace csd::client {
namespace {

Record record_of(int child, std::uint64_t connection, const Outcome& outcome) {
    Record record;
    record.child = child;
    record.connection = connection;
    record.ok = outcome.ok;
    record.latency_ns = outcome.latency_ns;
    record.message = outcome.error;
    return record;
}

void run_one_at_a_time(int child, const ClientOptions& options, const Address& address,
                       Clock::duration timeout, RecordWriter& writer) {
    SequentialConnector connector(address, options.bytes, timeout, options.count_only);
    for (std::uint64_t connection = 1; connection <= options.connections; ++connection) {
        Outcome outcome;
        try {
            outcome = connector.run();
        } catch (const std::system_error& e) {  // e.g. EMFILE: this connection failed
            outcome.error = e.what();
        }
        writer.add(record_of(child, connection, outcome));
    }
}

void run_concurrently(int child, const ClientOptions& options, const Address& address,
                      Clock::duration timeout, RecordWriter& writer) {
    ConcurrentConnector connector(address, options.bytes, timeout, options.count_only);
    for (std::uint64_t round = 0; round < options.connections; ++round) {
        const std::uint64_t first = round * options.concurrent + 1;
        connector.run(options.concurrent, [&](std::uint64_t index, const Outcome& outcome) {
            writer.add(record_of(child, first + index, outcome));
        });
    }
}

}  // namespace

int run_child(int child, const ClientOptions& options, const Address& address,
              int report_fd) noexcept {
    try {
        const auto timeout = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(options.timeout_s));
        RecordWriter writer(report_fd);
        if (options.concurrent == 0)
            run_one_at_a_time(child, options, address, timeout, writer);
        else
            run_concurrently(child, options, address, timeout, writer);
        writer.flush();
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "csd-client: child {}: {}\n", child, e.what());
    } catch (...) {
        fmt::print(stderr, "csd-client: child {}: unknown error\n", child);
    }
    return child_error_status;
}

}  // namespace csd::client
