// IdxReader: MNIST-style IDX files (LeCun's format, as Fashion-MNIST ships them), plain or gzipped.
// Header: two zero bytes, a type code (0x08 = uint8, the only type image datasets use), the number
// of dimensions, then each dimension as a big-endian uint32; the payload follows, row-major.
// The reader streams: read() hands out items in order, so memory does not grow with the file.
// Every malformed file is a kiln::Error naming the file, what was expected and what was found.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln::io {

class IdxReader {
 public:
  // Opens `path` (gzip detected by content, not by name) and validates the header.
  explicit IdxReader(std::string path);
  ~IdxReader();
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;
  IdxReader(IdxReader&&) noexcept;

  const std::string& path() const { return path_; }
  const std::vector<std::uint32_t>& dims() const { return dims_; }  // dims()[0]: item count
  std::uint64_t count() const { return dims_[0]; }
  std::uint64_t item_bytes() const;  // product of dims()[1:]

  // Reads the next out.size() / item_bytes() items into `out`. Throws when the file ends early
  // ("truncated") or is corrupt.
  void read(std::span<std::uint8_t> out);

  // After all items were read: throws when bytes remain, i.e. the length disagrees with the header.
  void expect_end();

 private:
  std::string path_;
  // gzFile, owned: closed even when the constructor throws on a bad header.
  struct GzClose {
    void operator()(void* file) const;
  };
  std::unique_ptr<void, GzClose> gz_;
  std::vector<std::uint32_t> dims_;
  std::uint64_t items_read_ = 0;
};

// Reads a whole IDX label file (1 dimension, uint8) into int32 labels.
std::vector<std::int32_t> read_idx_labels(const std::string& path);

}  // namespace kiln::io
