// AtomicFile: write to a temporary name beside the target, then rename into place (docs/design.md
// contract 4). A reader sees the previous good file or the complete new one, never a half-written
// one; if the writer dies or throws before commit(), the temporary is removed (or, after SIGKILL,
// left as "<name>.tmp-<pid>", which nothing reads).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace kiln::io {

class AtomicFile {
 public:
  // Creates the target's parent folder if needed. Throws kiln::Error when it cannot, or when
  // check_output_file() refuses the target.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }

  // Renames the temporary onto the target (atomic on POSIX within one file system).
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// Throws kiln::Error naming `target` when it cannot be an output file: it is a folder, its
// folder (or the nearest one that exists) cannot be written, or a file stands where a folder
// must be. Jobs call it before their work, so such a mistake stops
// them at once rather than when the result is ready.
void check_output_file(const std::filesystem::path& target);

// Replaces `target` with `contents` through an AtomicFile. Throws kiln::Error naming the file and
// `what` it holds ("the training log") when it cannot be written.
void write_file_atomically(const std::filesystem::path& target, std::string_view contents,
                           const std::string& what);

}  // namespace kiln::io
