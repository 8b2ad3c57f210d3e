// skelgen: makes a lab's skeleton from its marked reference solution.
//
// The solution is the single source. In it:
//   // BEGIN SOLUTION ... // END SOLUTION   lines that only the solution has
//   // SKELETON: text                      a line that only the skeleton has
//                                          (as "text", at the same indent)
// Usage:
//   skelgen SOLUTION SKELETON           write the skeleton
//   skelgen --check SOLUTION SKELETON   exit 1 if SKELETON is not what
//                                       SOLUTION generates (names the first
//                                       differing line)

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// If @p line is "<indent>// <tag>..." returns the position after the tag.
std::size_t after_tag(std::string_view line, std::string_view tag) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::string_view::npos;
    const std::string marker = "// " + std::string(tag);
    if (line.substr(start, marker.size()) != marker) return std::string_view::npos;
    return start + marker.size();
}

std::string generate(const std::string& path) {
    const std::vector<std::string> lines = split_lines(read_file(path));
    std::string out;
    bool in_solution = false;
    std::size_t begin_line = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const std::string where = path + ":" + std::to_string(i + 1) + ": ";
        if (after_tag(line, "BEGIN SOLUTION") != std::string_view::npos) {
            if (in_solution) throw std::runtime_error(where + "BEGIN SOLUTION inside another");
            in_solution = true;
            begin_line = i + 1;
            continue;
        }
        if (after_tag(line, "END SOLUTION") != std::string_view::npos) {
            if (!in_solution) throw std::runtime_error(where + "END SOLUTION without BEGIN");
            in_solution = false;
            continue;
        }
        if (const std::size_t pos = after_tag(line, "SKELETON:"); pos != std::string_view::npos) {
            if (in_solution)
                throw std::runtime_error(where + "SKELETON: line inside a SOLUTION block");
            std::string_view text = line.substr(pos);
            if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
            const std::string_view indent = line.substr(0, line.find_first_not_of(" \t"));
            if (!text.empty()) out.append(indent).append(text);
            out += '\n';
            continue;
        }
        if (!in_solution) out.append(line).append("\n");
    }
    if (in_solution) {
        throw std::runtime_error(path + ":" + std::to_string(begin_line) +
                                 ": BEGIN SOLUTION never ends");
    }
    return out;
}

int check(const std::string& solution, const std::string& skeleton) {
    const std::string want = generate(solution);
    const std::string have = read_file(skeleton);
    if (want == have) return 0;
    const auto w = split_lines(want);
    const auto h = split_lines(have);
    std::size_t i = 0;
    while (i < w.size() && i < h.size() && w[i] == h[i]) ++i;
    std::cerr << skeleton << ":" << i + 1 << ": differs from what " << solution << " generates\n"
              << "  expected: " << (i < w.size() ? w[i] : "<end of file>") << "\n"
              << "  found:    " << (i < h.size() ? h[i] : "<end of file>") << "\n"
              << "Regenerate with: cmake --build build --target skeletons\n"
              << "(If you are a student who edited this skeleton, this is expected.)\n";
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 3 && args[0] == "--check") return check(args[1], args[2]);
        if (args.size() == 2) {
            const std::string text = generate(args[0]);
            std::ofstream out(args[1], std::ios::binary | std::ios::trunc);
            if (!(out << text)) throw std::runtime_error("cannot write " + args[1]);
            return 0;
        }
        std::cerr << "usage: skelgen [--check] SOLUTION SKELETON\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "skelgen: " << e.what() << "\n";
        return 2;
    }
}
