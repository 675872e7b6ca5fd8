#include "io/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "nn/error.hpp"

namespace kiln::io {

void check_output_file(const std::filesystem::path& target) {
  if (std::filesystem::is_directory(target)) {
    throw Error(target.string() + ": is a folder; give a file name to write");
  }
  const auto parent =
      target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  if (std::filesystem::is_directory(parent) && ::access(parent.c_str(), W_OK) != 0) {
    throw Error(target.string() + ": cannot write into " + parent.string() + ": " +
                std::strerror(errno));
  }
}

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  check_output_file(target_);
  const auto parent = target_.parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw Error(target_.string() + ": cannot create folder " + parent.string() + ": " +
                ec.message());
  }
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid());
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicFile::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec)
    throw Error(target_.string() + ": cannot move the finished file into place: " + ec.message());
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& target, std::string_view contents,
                           const std::string& what) {
  AtomicFile file(target);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) throw Error(target.string() + ": cannot write " + what + " (disk full?)");
  }
  file.commit();
}

}  // namespace kiln::io
