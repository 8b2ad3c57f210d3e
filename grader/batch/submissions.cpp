#include "submissions.hpp"

#include <algorithm>
#include <set>

namespace csd::batch {

Folder find_submissions(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::vector<fs::directory_entry> entries;
    for (const auto& entry : fs::directory_iterator(dir)) entries.push_back(entry);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.path().filename() < b.path().filename();
    });

    Folder folder;
    std::set<std::string> directories;
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with('.') && entry.is_directory()) directories.insert(name);
    }
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with('.')) {
            folder.ignored.push_back(name);
        } else if (entry.is_directory()) {
            folder.submissions.push_back({name, entry.path()});
        } else if (entry.is_regular_file() && name.size() > 4 && name.ends_with(".cpp")) {
            const std::string stem = name.substr(0, name.size() - 4);
            folder.submissions.push_back({directories.contains(stem) ? name : stem, entry.path()});
        } else {
            folder.ignored.push_back(name);
        }
    }
    std::sort(folder.submissions.begin(), folder.submissions.end(),
              [](const Submission& a, const Submission& b) { return a.student < b.student; });
    return folder;
}

}  // namespace csd::batch
