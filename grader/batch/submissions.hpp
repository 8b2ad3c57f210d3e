#pragma once
/// @file submissions.hpp
/// @brief The submissions of a batch: what each entry of the folder is.

#include <filesystem>
#include <string>
#include <vector>

namespace csd::batch {

/// One student's submission.
struct Submission {
    std::string student = {};  ///< Name in the summaries: the entry's name (a file: without .cpp).
    std::filesystem::path source =
        {};  ///< A directory (a checkout, or the sources) or one .cpp file.
};

/// What a folder of submissions holds.
struct Folder {
    std::vector<Submission> submissions = {};  ///< By student name.
    std::vector<std::string> ignored = {};  ///< Entries that are no submission (hidden, not .cpp).
};

/// Reads folder @p dir: every directory is a student (a checkout of the
/// course tree, or a directory with the lab's sources), every `NAME.cpp`
/// file is a student NAME; hidden entries and other files are ignored.
/// When a directory and a file would give the same name, the file's
/// student keeps the `.cpp`. Throws std::filesystem::filesystem_error when
/// @p dir cannot be read. Any thread.
[[nodiscard]] Folder find_submissions(const std::filesystem::path& dir);

}  // namespace csd::batch
