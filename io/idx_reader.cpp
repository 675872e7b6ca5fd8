#include "io/idx_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

constexpr std::uint8_t kTypeUint8 = 0x08;

std::string type_name(std::uint8_t code) {
  switch (code) {
    case 0x08:
      return "uint8";
    case 0x09:
      return "int8";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

std::string hex32(const std::array<std::uint8_t, 4>& b) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%02X%02X%02X%02X", b[0], b[1], b[2], b[3]);
  return text;
}

}  // namespace

void IdxReader::GzClose::operator()(void* file) const { gzclose(static_cast<gzFile>(file)); }

IdxReader::IdxReader(std::string path) : path_(std::move(path)) {
  gz_.reset(gzopen(path_.c_str(), "rb"));  // reads plain files transparently
  if (!gz_) throw Error(path_ + ": cannot open: no such file or not readable");
  const auto file = static_cast<gzFile>(gz_.get());
  gzbuffer(file, 1 << 17);

  std::array<std::uint8_t, 4> magic{};
  const int got = gzread(file, magic.data(), 4);
  if (got != 4) {
    throw Error(path_ + ": not an IDX file: it holds " + std::to_string(std::max(got, 0)) +
                " bytes, shorter than the 4-byte IDX magic number");
  }
  if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4) {
    throw Error(path_ + ": not an IDX file: bad magic number " + hex32(magic) +
                " (expected 0x000008NN with NN = 1..4 dimensions, e.g. 0x00000803 for images)");
  }
  if (magic[2] != kTypeUint8) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02X", magic[2]);
    throw Error(path_ + ": IDX element type " + code + " (" + type_name(magic[2]) +
                ") is not supported; kiln reads uint8 (0x08) image and label files");
  }
  dims_.resize(magic[3]);
  for (auto& d : dims_) {
    std::array<std::uint8_t, 4> b{};
    if (gzread(file, b.data(), 4) != 4) throw Error(path_ + ": truncated IDX header");
    d = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
        b[3];
  }
  // An item of zero bytes has no pixels to read (and would divide by zero when counting items);
  // one of 2^64 bytes or more would wrap around to a small size (both found by fuzzing).
  std::uint64_t item = 1;
  for (std::size_t i = 1; i < dims_.size(); ++i) {
    if (dims_[i] == 0) {
      throw Error(path_ + ": IDX dimension " + std::to_string(i + 1) +
                  " is 0; every item needs at least one value");
    }
    if (__builtin_mul_overflow(item, std::uint64_t{dims_[i]}, &item) || item > (1ull << 40)) {
      throw Error(path_ + ": IDX items of more than 2^40 bytes; the header is damaged");
    }
  }
}

IdxReader::~IdxReader() = default;
IdxReader::IdxReader(IdxReader&&) noexcept = default;

std::uint64_t IdxReader::item_bytes() const {
  std::uint64_t bytes = 1;
  for (std::size_t i = 1; i < dims_.size(); ++i) bytes *= dims_[i];
  return bytes;
}

void IdxReader::read(std::span<std::uint8_t> out) {
  const auto file = static_cast<gzFile>(gz_.get());
  const std::uint64_t items = out.size() / item_bytes();
  if (items_read_ + items > count()) {
    throw Error(path_ + ": asked for item " + std::to_string(items_read_ + items) + " of " +
                std::to_string(count()));
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(out.size() - done, 1u << 30));
    const int got = gzread(file, out.data() + done, chunk);
    if (got < 0) {
      int code = 0;
      throw Error(path_ + ": corrupt gzip stream: " + gzerror(file, &code));
    }
    if (got == 0) {
      const std::uint64_t total = (items_read_ * item_bytes() + done);
      throw Error(path_ + ": truncated: the header promises " + std::to_string(count()) +
                  " items (" + std::to_string(count() * item_bytes()) +
                  " payload bytes) but the file " + "ends after " + std::to_string(total) +
                  " bytes; re-download or re-extract it");
    }
    done += static_cast<std::size_t>(got);
  }
  items_read_ += items;
}

void IdxReader::expect_end() {
  const auto file = static_cast<gzFile>(gz_.get());
  std::array<std::uint8_t, 4096> scratch{};
  std::uint64_t extra = 0;
  while (true) {
    const int got = gzread(file, scratch.data(), scratch.size());
    if (got < 0) {
      int code = 0;
      throw Error(path_ + ": corrupt gzip stream: " + gzerror(file, &code));
    }
    if (got == 0) break;
    extra += static_cast<std::uint64_t>(got);
  }
  if (extra > 0) {
    throw Error(path_ + ": length disagrees with the header: " + std::to_string(extra) +
                " bytes follow the " + std::to_string(count()) + " items the header declares; " +
                "the file is damaged or its header is wrong");
  }
}

std::vector<std::int32_t> read_idx_labels(const std::string& path) {
  IdxReader reader(path);
  if (reader.dims().size() != 1) {
    throw Error(path + ": an IDX label file has 1 dimension, this one has " +
                std::to_string(reader.dims().size()) + " (is it an image file?)");
  }
  // Read in 1 MiB steps: a damaged header may claim 4 billion labels in a 10-byte file, and the
  // memory should follow the bytes that are there, not the claim.
  std::vector<std::uint8_t> raw;
  while (raw.size() < reader.count()) {
    const std::size_t at = raw.size();
    raw.resize(at + std::min<std::size_t>(reader.count() - at, std::size_t{1} << 20));
    reader.read(std::span(raw).subspan(at));
  }
  reader.expect_end();
  return {raw.begin(), raw.end()};
}

}  // namespace kiln::io
