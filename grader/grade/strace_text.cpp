#include "strace_text.hpp"

#include <cctype>
#include <charconv>

namespace csd::grade {

namespace {

constexpr auto npos = std::string_view::npos;
constexpr std::string_view unfinished_mark = " <unfinished ...>";
constexpr std::string_view detached_mark = " <detached ...>";

bool is_digit(char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string_view trim_left(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

std::string_view trim_right(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::string_view trim(std::string_view s) {
    return trim_left(trim_right(s));
}

// The arguments of a call strace left before they were all printed ("4, "):
// without the trailing spaces and comma.
std::string_view trim_partial(std::string_view s) {
    s = trim(s);
    while (!s.empty() && s.back() == ',') s = trim_right(s.substr(0, s.size() - 1));
    return s;
}

// The index just past the string literal that starts at @p i (a '"';
// strace escapes '"' and '\' inside it), or s.size() when it does not end.
std::size_t skip_quoted(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return s.size();
}

// The index just past the -y decoration that starts at @p i (a '<'):
// "<TCP:[127.0.0.1:2000->127.0.0.1:40000]>", "</tmp/file>",
// "</dev/null<char 1:3>>". A '>' inside brackets ("->") does not end it.
// npos when it does not end in @p s.
std::size_t skip_decoration(std::string_view s, std::size_t i) {
    int angles = 0;
    int brackets = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '"') {
            i = skip_quoted(s, i);
            continue;
        }
        if (c == '[') {
            ++brackets;
        } else if (c == ']') {
            if (brackets > 0) --brackets;
        } else if (brackets == 0 && c == '<') {
            ++angles;
        } else if (brackets == 0 && c == '>' && --angles == 0) {
            return i + 1;
        }
        ++i;
    }
    return npos;
}

// The index of the first @p stop in @p s that is outside string literals,
// parentheses, brackets, braces and -y decorations, or npos. With ')' it
// finds the parenthesis that closes an argument list; with ',' the end of
// the first argument.
std::size_t find_top_level(std::string_view s, char stop) {
    int depth = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (depth == 0 && c == stop) return i;
        if (c == '"') {
            i = skip_quoted(s, i);
            continue;
        }
        // A decoration follows its descriptor ("5<...>", "AT_FDCWD</...>");
        // "1<<3" is a shift.
        if (c == '<' && i > 0 && is_name_char(s[i - 1]) && i + 1 < s.size() && s[i + 1] != '<') {
            if (const auto end = skip_decoration(s, i); end != npos) {
                i = end;
                continue;
            }
        }
        if (c == '(' || c == '[' || c == '{') {
            ++depth;
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            --depth;
        }
        ++i;
    }
    return npos;
}

// A number as strace prints it: decimal, 0x hexadecimal or 0 octal, with
// an optional '-'; the rest of @p s (a decoration, a comment) is ignored.
std::optional<long long> parse_number(std::string_view s) {
    bool negative = false;
    if (s.starts_with('-')) {
        negative = true;
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.starts_with("0x") || s.starts_with("0X")) {
        base = 16;
        s.remove_prefix(2);
    } else if (s.size() > 1 && s.front() == '0' && is_digit(s[1])) {
        base = 8;
    }
    long long n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n, base);
    if (ec != std::errc() || end == s.data()) return std::nullopt;
    return negative ? -n : n;
}

// Fills the arguments and result of @p call from @p text: the argument
// text, its closing ')', then "= RESULT" (spaces around '=' or not).
void read_rest(StraceCall& call, std::string_view text) {
    const auto close = find_top_level(text, ')');
    if (close == npos) {
        call.args = std::string(trim_partial(text));
        call.returned = false;
        return;
    }
    call.args = std::string(trim(text.substr(0, close)));
    std::string_view rest = trim_left(text.substr(close + 1));
    if (!rest.starts_with('=')) {
        call.returned = false;
        return;
    }
    rest = trim(rest.substr(1));
    call.result = std::string(rest);
    call.returned = true;
    if (!rest.starts_with('?')) call.value = parse_number(rest);
    if (call.value && *call.value != -1) return;
    // "-1 EAGAIN (Resource temporarily unavailable)", "? ERESTARTSYS (...)"
    const auto space = rest.find(' ');
    if (space == npos) return;
    const std::string_view word = trim_left(rest.substr(space));
    std::size_t n = 0;
    while (n < word.size() && (std::isupper(static_cast<unsigned char>(word[n])) != 0 ||
                               is_digit(word[n]) || word[n] == '_')) {
        ++n;
    }
    if (n > 0 && std::isupper(static_cast<unsigned char>(word[0])) != 0 &&
        (n == word.size() || word[n] == ' ')) {
        call.error = std::string(word.substr(0, n));
    }
}

// What one line of strace output is.
enum class Kind {
    call,        // name(args) = result
    unfinished,  // name(args <unfinished ...>
    detached,    // name(args <detached ...>
    resumed,     // <... name resumed>args) = result
};

struct Line {
    Kind kind = Kind::call;
    int pid = 0;
    std::string_view name;
    std::string_view body;  // after "name(" or "resumed>", without the marks
};

// @p line read, or nullopt when it is not a system call (strace's own
// messages, "+++ exited with 0 +++", "--- SIGCHLD {...} ---").
std::optional<Line> read_line(std::string_view line) {
    Line out;
    line = trim_right(line);
    // "[pid  4242] " (strace -f, several threads) or "4242  " (-f -o FILE).
    if (line.starts_with("[pid ")) {
        line = trim_left(line.substr(5));
        const auto close = line.find(']');
        if (close == npos) return std::nullopt;
        const auto pid = parse_number(line.substr(0, close));
        if (!pid) return std::nullopt;
        out.pid = static_cast<int>(*pid);
        line = trim_left(line.substr(close + 1));
    } else if (!line.empty() && is_digit(line.front())) {
        std::size_t n = 0;
        while (n < line.size() && is_digit(line[n])) ++n;
        if (n == line.size() || line[n] != ' ') return std::nullopt;
        out.pid = static_cast<int>(*parse_number(line.substr(0, n)));
        line = trim_left(line.substr(n));
    }
    if (line.starts_with("<... ")) {
        constexpr std::string_view resumed = " resumed>";
        const auto end = line.find(resumed);
        if (end == npos) return std::nullopt;
        out.kind = Kind::resumed;
        out.name = line.substr(5, end - 5);
        out.body = line.substr(end + resumed.size());
        // "<... read resumed> <unfinished ...>) = ?": it ended as the thread did.
        if (out.body.starts_with(unfinished_mark)) out.body.remove_prefix(unfinished_mark.size());
        return out;
    }
    std::size_t n = 0;
    while (n < line.size() && is_name_char(line[n])) ++n;
    if (n == 0 || n == line.size() || line[n] != '(' || is_digit(line.front())) {
        return std::nullopt;
    }
    out.name = line.substr(0, n);
    out.body = line.substr(n + 1);
    if (out.body.ends_with(unfinished_mark)) {
        out.kind = Kind::unfinished;
        out.body.remove_suffix(unfinished_mark.size());
    } else if (out.body.ends_with(detached_mark)) {
        out.kind = Kind::detached;
        out.body.remove_suffix(detached_mark.size());
    }
    return out;
}

}  // namespace

bool StraceCall::succeeded() const noexcept {
    return returned && value && *value >= 0 && error.empty();
}

std::vector<std::string_view> StraceCall::arguments() const {
    std::vector<std::string_view> out;
    std::string_view rest = args;
    while (!trim(rest).empty()) {
        const auto comma = find_top_level(rest, ',');
        out.push_back(trim(rest.substr(0, comma)));
        if (comma == npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

int StraceCall::fd() const {
    if (!entered) return -1;
    const auto all = arguments();
    if (all.empty()) return -1;
    const std::string_view first = all.front();
    std::size_t n = 0;
    while (n < first.size() && is_digit(first[n])) ++n;
    if (n == 0 || n > 9 || (n < first.size() && first[n] != '<')) return -1;
    int fd = -1;
    std::from_chars(first.data(), first.data() + n, fd);
    return fd;
}

std::vector<StraceCall> parse_strace(std::string_view text) {
    std::vector<StraceCall> calls;
    // The calls left "<unfinished ...>" per thread: where in calls, and the
    // argument text printed so far.
    struct Pending {
        std::size_t index;
        std::string head;
    };
    std::map<int, Pending> pending;
    // The unfinished call @p pid's "<... name resumed>" line ends. strace
    // prints "[pid N] " only while it traces several threads, so a call
    // started with the prefix may end without it (the other threads gone),
    // or the other way round.
    const auto started = [&](int pid, std::string_view name) {
        if (const auto it = pending.find(pid);
            it != pending.end() && calls[it->second.index].name == name) {
            return it;
        }
        for (auto it = pending.begin(); it != pending.end(); ++it) {
            if ((pid == 0 || it->first == 0) && calls[it->second.index].name == name) return it;
        }
        return pending.end();
    };

    while (!text.empty()) {
        const auto eol = text.find('\n');
        const std::string_view raw = text.substr(0, eol);
        text.remove_prefix(eol == npos ? text.size() : eol + 1);
        const auto line = read_line(raw);
        if (!line) continue;
        StraceCall call;
        call.pid = line->pid;
        call.name = std::string(line->name);
        switch (line->kind) {
            case Kind::call:
                read_rest(call, line->body);
                calls.push_back(std::move(call));
                break;
            case Kind::unfinished:
                // An earlier call of this thread still unfinished never ends.
                pending.erase(line->pid);
                call.args = std::string(trim_partial(line->body));
                call.returned = false;
                pending[line->pid] = {calls.size(), std::string(line->body)};
                calls.push_back(std::move(call));
                break;
            case Kind::detached:
                call.args = std::string(trim_partial(line->body));
                call.returned = false;
                calls.push_back(std::move(call));
                break;
            case Kind::resumed: {
                const auto it = started(line->pid, line->name);
                if (it == pending.end()) {
                    // Its start is not in the text: only the end of its arguments.
                    call.entered = false;
                    read_rest(call, line->body);
                    calls.push_back(std::move(call));
                    break;
                }
                StraceCall& first = calls[it->second.index];
                std::string joined = it->second.head;
                std::string_view tail = line->body;
                const bool detached = tail.ends_with(detached_mark);
                if (detached) tail.remove_suffix(detached_mark.size());
                joined += tail;
                if (detached) {
                    first.args = std::string(trim_partial(joined));
                } else {
                    read_rest(first, joined);
                }
                pending.erase(it);
                break;
            }
        }
    }
    return calls;
}

std::map<std::string, std::uint64_t> strace_bytes_per_call(const std::string& text) {
    std::map<std::string, std::uint64_t> bytes;
    for (const StraceCall& call : parse_strace(text)) {
        if (call.succeeded() && *call.value > 0) {
            bytes[call.name] += static_cast<std::uint64_t>(*call.value);
        }
    }
    return bytes;
}

bool is_output_call(std::string_view name) {
    return name == "write" || name == "writev" || name == "send" || name == "sendto" ||
           name == "sendmsg";
}

std::vector<OutputCall> parse_output_calls(const std::string& text) {
    std::vector<OutputCall> calls;
    for (const StraceCall& call : parse_strace(text)) {
        if (!call.succeeded()) continue;
        if (is_output_call(call.name)) {
            calls.push_back({call.name, call.fd(), *call.value});
        }
    }
    return calls;
}

}  // namespace csd::grade
