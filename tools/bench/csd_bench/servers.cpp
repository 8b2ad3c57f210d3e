#include "servers.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "registry.hpp"

namespace csd::bench {

const std::vector<LabMode>& lab_modes() {
    // From the lab manifest (labs/labs.txt): each mode the handout asks for,
    // then the modes csd-bench alone runs, each with the lab's bench flags.
    static const std::vector<LabMode> modes = [] {
        std::vector<LabMode> all;
        for (const csd::grade::CourseLab& lab : csd::grade::course_labs()) {
            const auto add = [&](const csd::grade::CourseMode* mode) {
                LabMode line{.lab = lab.id,
                             .mode = mode ? mode->name : std::string_view(),
                             .args = lab.bench_args,
                             .count_only = lab.bench_count_only};
                if (mode) line.args.insert(line.args.end(), mode->args.begin(), mode->args.end());
                all.push_back(std::move(line));
            };
            for (const auto& mode : lab.modes) add(&mode);
            for (const auto& mode : lab.bench_modes) add(&mode);
            if (lab.modes.empty() && lab.bench_modes.empty() &&
                (!lab.bench_args.empty() || lab.bench_count_only))
                add(nullptr);
        }
        return all;
    }();
    return modes;
}

std::vector<std::string> server_labs() {
    std::vector<std::string> ids;
    for (const auto& lab : csd::grade::labs())
        if (lab.available && !lab.hidden && lab.kind == csd::grade::LabKind::server)
            ids.emplace_back(lab.id);
    return ids;
}

std::vector<BenchServer> lab_servers(const std::vector<std::string>& labs,
                                     const std::string& bin_dir, bool student) {
    const std::vector<std::string> known = server_labs();
    std::vector<BenchServer> servers;
    for (const std::string& lab : labs) {
        if (std::find(known.begin(), known.end(), lab) == known.end())
            throw std::invalid_argument(fmt::format(
                "'{}' is not a lab server (the lab servers: {})", lab, fmt::join(known, " ")));
        std::vector<LabMode> modes;
        for (const LabMode& mode : lab_modes())
            if (mode.lab == lab) modes.push_back(mode);
        if (modes.empty()) modes.push_back(LabMode{.lab = lab, .mode = ""});
        for (const char* kind : {"solution", "skeleton"}) {
            const bool yours = std::string_view(kind) == "skeleton";
            if (yours && !student) continue;
            // The student release has no reference solutions: where yours is
            // built and the solution is not, only yours.
            const std::string program = fmt::format("{}/{}-{}", bin_dir, kind, lab);
            const std::string your_program = fmt::format("{}/skeleton-{}", bin_dir, lab);
            if (!yours && student && ::access(program.c_str(), X_OK) != 0 &&
                ::access(your_program.c_str(), X_OK) == 0) {
                continue;
            }
            for (const LabMode& mode : modes) {
                BenchServer server;
                server.lab = lab;
                server.name = mode.mode.empty() ? lab : fmt::format("{}:{}", lab, mode.mode);
                if (yours) server.name += " (yours)";
                server.argv.push_back(program);
                server.argv.insert(server.argv.end(), mode.args.begin(), mode.args.end());
                server.count_only = mode.count_only;
                server.needs_address_args = true;
                servers.push_back(std::move(server));
            }
        }
    }
    return servers;
}

BenchServer external_server(std::string_view spec, bool count_only) {
    const auto equals = spec.find('=');
    if (equals == std::string_view::npos || equals == 0)
        throw std::invalid_argument(fmt::format("'{}' is not NAME=COMMAND", spec));
    BenchServer server;
    server.name = std::string(spec.substr(0, equals));
    std::istringstream words{std::string(spec.substr(equals + 1))};
    for (std::string word; words >> word;) server.argv.push_back(word);
    if (server.argv.empty())
        throw std::invalid_argument(fmt::format("'{}' has an empty COMMAND", spec));
    const std::string command(spec.substr(equals + 1));
    server.needs_address_args =
        command.find("{host}") == std::string::npos && command.find("{port}") == std::string::npos;
    server.count_only = count_only;
    return server;
}

namespace {

void replace_all(std::string& text, std::string_view what, const std::string& with) {
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
        text.replace(at, what.size(), with);
}

}  // namespace

std::vector<std::string> command_template(const BenchServer& server) {
    std::vector<std::string> argv = server.argv;
    if (!server.lab.empty()) argv.front() = std::filesystem::path(argv.front()).filename();
    if (server.needs_address_args) argv.insert(argv.end(), {"-i", "{host}", "-p", "{port}"});
    return argv;
}

std::vector<std::string> command_line(const BenchServer& server, const std::string& host, int port,
                                      const std::string& alphabet_file) {
    std::vector<std::string> argv;
    const std::string port_text = std::to_string(port);
    for (std::string word : server.argv) {
        replace_all(word, "{host}", host);
        replace_all(word, "{port}", port_text);
        replace_all(word, "{alphabet}", alphabet_file);
        argv.push_back(std::move(word));
    }
    if (server.needs_address_args) argv.insert(argv.end(), {"-i", host, "-p", port_text});
    return argv;
}

}  // namespace csd::bench
