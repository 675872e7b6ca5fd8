// Shared by the fuzz targets: the input as a temporary file (for readers that take a path), and
// the rule every target follows — kiln::Error is the expected answer to bad bytes; anything else
// (a crash, a sanitizer report, another exception escaping) is a bug the fuzzer reports.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace kiln::fuzz {

// A file holding the input, removed when this goes out of scope. One per process and target:
// libFuzzer runs inputs one after another.
class InputFile {
 public:
  InputFile(std::span<const std::uint8_t> bytes, const std::string& suffix) {
    path_ = "/tmp/kiln-fuzz-" + std::to_string(::getpid()) + suffix;
    if (std::FILE* f = std::fopen(path_.c_str(), "wb")) {
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
  }
  ~InputFile() { std::remove(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::span<const std::uint8_t> bytes_of(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}

}  // namespace kiln::fuzz
