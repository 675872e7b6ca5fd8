#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

// POSIX calls rather than a stream, so a failure reports its errno (ENOSPC, EFBIG, EDQUOT...).
// Returns 0 or the errno of the call that failed.
int write_whole_file(const std::filesystem::path& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int cause = errno;
      ::close(fd);
      return cause;
    }
    done += static_cast<std::size_t>(n);
  }
  // close() is where some file systems (NFS, quotas) report a failed write.
  return ::close(fd) == 0 ? 0 : errno;
}

}  // namespace

void check_output_file(const std::filesystem::path& target) {
  if (std::filesystem::is_directory(target)) {
    throw Error(target.string() + ": is a folder; give a file name to write");
  }
  // The nearest folder that exists decides: the missing ones are created inside it.
  auto folder = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  while (!std::filesystem::exists(folder) && folder.has_relative_path()) {
    folder = folder.parent_path();
  }
  if (std::filesystem::exists(folder) && !std::filesystem::is_directory(folder)) {
    throw Error(target.string() + ": " + folder.string() +
                " is a file, not a folder; give another output path");
  }
  if (std::filesystem::is_directory(folder) && ::access(folder.c_str(), W_OK) != 0) {
    throw Error(target.string() + ": cannot write into " + folder.string() + ": " +
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
  if (const int cause = write_whole_file(file.temp_path(), contents); cause != 0) {
    throw Error(target.string() + ": cannot write " + what + ": " + std::strerror(cause));
  }
  file.commit();
}

}  // namespace kiln::io
