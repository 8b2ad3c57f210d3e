#include "strace_text.hpp"

#include <cctype>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace csd::grade {

std::map<std::string, std::uint64_t> strace_bytes_per_call(const std::string& text) {
    std::map<std::string, std::uint64_t> bytes;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("<unfinished ...>") != std::string::npos) continue;
        std::string name;
        if (const auto r = line.find("<... "); r != std::string::npos) {
            const auto end = line.find(' ', r + 5);
            if (end == std::string::npos) continue;
            name = line.substr(r + 5, end - r - 5);
        } else {
            std::size_t b = 0;  // after "PID " or "[pid PID] "
            if (line.rfind("[pid ", 0) == 0) {
                b = line.find("] ");
                b = b == std::string::npos ? line.size() : b + 2;
            }
            while (b < line.size() &&
                   (std::isdigit(static_cast<unsigned char>(line[b])) != 0 || line[b] == ' ')) {
                ++b;
            }
            const auto paren = line.find('(', b);
            if (paren == std::string::npos) continue;
            name = line.substr(b, paren - b);
        }
        const auto eq = line.rfind(") = ");
        if (eq == std::string::npos) continue;
        const long long n = std::strtoll(line.c_str() + eq + 4, nullptr, 10);
        if (n > 0) bytes[name] += static_cast<std::uint64_t>(n);
    }
    return bytes;
}

std::vector<OutputCall> parse_output_calls(const std::string& text) {
    static const std::regex call(
        R"(^(?:\[pid\s+\d+\]\s+|\d+\s+)?(write|writev|send|sendto|sendmsg)\((\d+),.*\)\s+=\s+(\d+)\b)");
    std::vector<OutputCall> calls;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!std::regex_search(line, m, call)) continue;
        calls.push_back({m[1].str(), std::stoi(m[2].str()), std::stoll(m[3].str())});
    }
    return calls;
}

}  // namespace csd::grade
