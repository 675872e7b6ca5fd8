// CLI11 validators whose messages read well ("--lr must be > 0, got -1").
// A missing input is a missing file, not a command-line mistake: existing_file() and
// existing_path() throw kiln::Error naming the path, so `kiln` exits 1 for it as for any other
// unreadable file (and 2 for a malformed command line).
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "nn/error.hpp"
#include "nn/parallel.hpp"

namespace kiln::apps {

inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && value > 0) return {};
        } catch (const std::exception&) {
        }
        return "must be a number > 0, got " + text;
      },
      "POSITIVE");
}

// --threads: 0 (all cores, where `all_cores_allowed`) or a count up to nn::kMaxThreads.
inline CLI::Range thread_count(bool all_cores_allowed = true) {
  return CLI::Range(all_cores_allowed ? 0 : 1, nn::kMaxThreads);
}

// A file or a folder that exists.
inline CLI::Validator existing_path() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        if (!std::filesystem::exists(path)) throw Error(path + ": no such file or folder");
        return {};
      },
      "PATH");
}

// A file that exists (not a folder).
inline CLI::Validator existing_file() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
        if (std::filesystem::is_directory(path)) {
          throw Error(path + ": is a folder; expected a file");
        }
        return {};
      },
      "FILE");
}

}  // namespace kiln::apps
