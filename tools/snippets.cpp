// snippets: every C++ code block of a handout compiles under the project's
// flags, or is a real excerpt of the lab's solution.
//
//   snippets --work DIR --compile 'CXX FLAGS...' HANDOUT SOLUTION
//
// Each ```cpp (or ```c++) block of HANDOUT is checked:
// - a block marked by the line `<!-- snippet: compile -->` just before its
//   fence is compiled (CXX FLAGS -fsyntax-only): as it is when it has a
//   main(), else after a prelude that includes the lab library and the
//   usual POSIX and standard headers (a fragment of namespace-level code);
// - any other block must be an excerpt of SOLUTION: its lines, modulo
//   whitespace and blank lines, appear in SOLUTION in the same order and
//   next to each other; a snippet line `// ...` stands for any gap.
// Exit status 0 when every block passes, 1 otherwise (each failure is
// printed), 2 on a usage error.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// One fenced C++ block of a handout.
struct Block {
    int line = 0;          ///< Line of the opening fence (1-based).
    bool compile = false;  ///< Marked `<!-- snippet: compile -->`.
    std::vector<std::string> lines;
};

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t\r");
    return std::string(s.substr(first, last - first + 1));
}

/// @p s without any whitespace: "modulo whitespace" comparisons.
std::string squeeze(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c != ' ' && c != '\t' && c != '\r') out += c;
    }
    return out;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        std::cerr << "snippets: cannot read " << path << '\n';
        std::exit(2);
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<Block> cpp_blocks(const std::vector<std::string>& md) {
    std::vector<Block> blocks;
    std::string previous;  // last non-blank line before the current one
    for (std::size_t i = 0; i < md.size(); ++i) {
        const std::string t = trim(md[i]);
        if (t.starts_with("```")) {
            const std::string lang = trim(std::string_view(t).substr(3));
            std::size_t end = i + 1;
            while (end < md.size() && !trim(md[end]).starts_with("```")) ++end;
            if (lang == "cpp" || lang == "c++") {
                Block b;
                b.line = static_cast<int>(i + 1);
                b.compile = previous == "<!-- snippet: compile -->";
                b.lines.assign(md.begin() + static_cast<std::ptrdiff_t>(i + 1),
                               md.begin() + static_cast<std::ptrdiff_t>(std::min(end, md.size())));
                blocks.push_back(std::move(b));
            }
            i = end;
            previous.clear();
            continue;
        }
        if (!t.empty()) previous = t;
    }
    return blocks;
}

/// True when the lines of @p block appear in @p source, in order and next
/// to each other (blank lines ignored), `// ...` allowing a gap.
bool is_excerpt(const Block& block, const std::vector<std::string>& source) {
    std::vector<std::string> want;
    std::vector<bool> gap_before;
    bool gap = false;
    for (const std::string& l : block.lines) {
        const std::string s = squeeze(l);
        if (s.empty()) continue;
        if (s == "//...") {
            gap = true;
            continue;
        }
        want.push_back(s);
        gap_before.push_back(gap);
        gap = false;
    }
    if (want.empty()) return false;
    std::vector<std::string> have;
    for (const std::string& l : source) {
        if (std::string s = squeeze(l); !s.empty()) have.push_back(std::move(s));
    }
    for (std::size_t start = 0; start < have.size(); ++start) {
        if (have[start] != want[0]) continue;
        std::size_t at = start + 1;
        bool ok = true;
        for (std::size_t k = 1; k < want.size() && ok; ++k) {
            if (gap_before[k]) {
                while (at < have.size() && have[at] != want[k]) ++at;
            }
            ok = at < have.size() && have[at] == want[k];
            ++at;
        }
        if (ok) return true;
    }
    return false;
}

constexpr std::string_view prelude = R"(// prelude added by tools/snippets
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "csd/lab.hpp"
)";

bool compiles(const Block& block, const std::string& handout, const std::string& file,
              const std::string& compile) {
    bool has_main = false;
    std::ostringstream text;
    for (const std::string& l : block.lines)
        has_main = has_main || l.find("int main(") != std::string::npos;
    if (!has_main) text << prelude;
    text << "#line " << block.line + 1 << " \"" << handout
         << "\"\n";  // errors point at the handout
    for (const std::string& l : block.lines) text << l << '\n';
    {
        std::ofstream out(file);
        out << text.str();
    }
    const std::string command = compile + " -fsyntax-only " + file;
    return std::system(command.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string work;
    std::string compile;
    std::vector<std::string> paths;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--work" && i + 1 < argc) {
            work = argv[++i];
        } else if (arg == "--compile" && i + 1 < argc) {
            compile = argv[++i];
        } else {
            paths.emplace_back(arg);
        }
    }
    if (work.empty() || compile.empty() || paths.size() != 2) {
        std::cerr << "usage: snippets --work DIR --compile 'CXX FLAGS...' HANDOUT SOLUTION\n";
        return 2;
    }
    const std::vector<Block> blocks = cpp_blocks(read_lines(paths[0]));
    const std::vector<std::string> solution = read_lines(paths[1]);
    int failed = 0;
    int number = 0;
    for (const Block& b : blocks) {
        ++number;
        const std::string where = paths[0] + ":" + std::to_string(b.line);
        if (b.compile) {
            const std::string file = work + "/snippet-" + std::to_string(number) + ".cpp";
            if (compiles(b, paths[0], file, compile)) {
                std::cout << where << ": compiles\n";
            } else {
                std::cout << where << ": does not compile under the project's flags\n";
                ++failed;
            }
        } else if (is_excerpt(b, solution)) {
            std::cout << where << ": an excerpt of " << paths[1] << '\n';
        } else {
            std::cout
                << where << ": not an excerpt of " << paths[1]
                << " (mark it <!-- snippet: compile --> if it is meant to compile on its own)\n";
            ++failed;
        }
    }
    std::cout << blocks.size() << " C++ blocks, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
}
