#include <gtest/gtest.h>

#include <filesystem>

#include "io/idx_import.hpp"
#include "io/idx_reader.hpp"
#include "nn/error.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

using testing::idx_bytes;
using testing::write_file;

// Runs f, expects a kiln::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    for (const auto& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
    }
  }
}

class IdxReaderTest : public ::testing::TestWithParam<bool> {};  // param: gzipped

TEST_P(IdxReaderTest, ReadsHeaderAndPayload) {
  testing::TempDir dir;
  const std::string path = dir.file("images.idx");
  std::vector<std::uint8_t> payload(2 * 3 * 4);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  write_file(path, idx_bytes(0x08, {2, 3, 4}, payload), GetParam());

  IdxReader reader(path);
  EXPECT_EQ(reader.dims(), (std::vector<std::uint32_t>{2, 3, 4}));
  EXPECT_EQ(reader.count(), 2u);
  EXPECT_EQ(reader.item_bytes(), 12u);
  std::vector<std::uint8_t> first(12), second(12);
  reader.read(first);
  reader.read(second);
  reader.expect_end();
  EXPECT_EQ(first, std::vector<std::uint8_t>(payload.begin(), payload.begin() + 12));
  EXPECT_EQ(second, std::vector<std::uint8_t>(payload.begin() + 12, payload.end()));
}

TEST_P(IdxReaderTest, BadMagicNumberNamesTheFile) {
  testing::TempDir dir;
  const std::string path = dir.file("bad-magic.idx");
  auto bytes = idx_bytes(0x08, {1, 2, 2}, {1, 2, 3, 4});
  bytes[0] = 0x1F;
  bytes[1] = 0x00;
  write_file(path, bytes, GetParam());
  expect_error([&] { IdxReader r(path); }, {path, "bad magic number", "0x1F000803"});
}

TEST_P(IdxReaderTest, TruncatedPayloadIsReported) {
  testing::TempDir dir;
  const std::string path = dir.file("short.idx");
  write_file(path, idx_bytes(0x08, {3, 2, 2}, std::vector<std::uint8_t>(10, 1)), GetParam());
  IdxReader reader(path);
  std::vector<std::uint8_t> all(12);
  expect_error([&] { reader.read(all); }, {path, "truncated", "3 items", "after 10 bytes"});
}

TEST_P(IdxReaderTest, TrailingBytesAreReported) {
  testing::TempDir dir;
  const std::string path = dir.file("long.idx");
  write_file(path, idx_bytes(0x08, {1, 2, 2}, std::vector<std::uint8_t>(9, 1)), GetParam());
  IdxReader reader(path);
  std::vector<std::uint8_t> all(4);
  reader.read(all);
  expect_error([&] { reader.expect_end(); }, {path, "length disagrees with the header", "5 bytes"});
}

TEST_P(IdxReaderTest, UnsupportedElementTypeIsNamed) {
  testing::TempDir dir;
  const std::string path = dir.file("float.idx");
  write_file(path, idx_bytes(0x0D, {1, 1}, {0, 0, 0, 0}), GetParam());
  expect_error([&] { IdxReader r(path); }, {path, "0x0D", "float32"});
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxReaderTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "gzip" : "plain";
                         });

TEST(IdxReader, MissingAndEmptyFiles) {
  testing::TempDir dir;
  expect_error([&] { IdxReader r(dir.file("nope.gz")); }, {"nope.gz", "cannot open"});
  write_file(dir.file("empty"), {}, false);
  expect_error([&] { IdxReader r(dir.file("empty")); }, {"empty", "not an IDX file"});
}

TEST(IdxReader, CorruptGzipIsReported) {
  testing::TempDir dir;
  const std::string path = dir.file("corrupt.gz");
  write_file(path, idx_bytes(0x08, {100, 10, 10}, std::vector<std::uint8_t>(10000, 3)), true);
  // Cut the compressed stream in half.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  expect_error(
      [&] {
        IdxReader reader(path);
        std::vector<std::uint8_t> all(10000);
        reader.read(all);
      },
      {path});
}

TEST(IdxImport, WritesADatasetAndRejectsMismatchedLabels) {
  testing::TempDir dir;
  auto [images, labels] =
      testing::write_synthetic_idx(dir.path().string(), "train", 50, 8, 6, 4, 1);
  IdxImport request{images, labels, dir.file("out.h5"), {"a", "b", "c", "d"}, "test", 0};
  const ImportSummary s = import_idx(request);
  EXPECT_EQ(s.images, 50);
  EXPECT_EQ(s.height, 8);
  EXPECT_EQ(s.width, 6);
  EXPECT_EQ(s.channels, 1);
  EXPECT_TRUE(std::filesystem::exists(dir.file("out.h5")));

  // Label file of another size: clear error, and no output file.
  auto [images2, labels2] =
      testing::write_synthetic_idx(dir.path().string(), "other", 40, 8, 6, 4, 1);
  IdxImport mismatched{images, labels2, dir.file("bad.h5"), {}, "test", 0};
  expect_error([&] { import_idx(mismatched); }, {labels2, "40 labels", "50 images"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.h5")));

  // Too few class names for the labels.
  IdxImport names{images, labels, dir.file("bad.h5"), {"a", "b"}, "test", 0};
  expect_error([&] { import_idx(names); }, {"class names"});

  // Labels passed as images.
  IdxImport swapped{labels, labels, dir.file("bad.h5"), {}, "test", 0};
  expect_error([&] { import_idx(swapped); }, {"label file"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.h5")));
}

TEST(IdxImport, TruncatedImagesLeaveNoOutputAndKeepAnOldOne) {
  testing::TempDir dir;
  auto [images, labels] =
      testing::write_synthetic_idx(dir.path().string(), "train", 30, 4, 4, 2, 1);
  const std::string out = dir.file("out.h5");
  import_idx({images, labels, out, {}, "first", 0});
  const auto size_before = std::filesystem::file_size(out);

  const std::string short_images = dir.file("short.idx");
  write_file(short_images, idx_bytes(0x08, {30, 4, 4}, std::vector<std::uint8_t>(30 * 16 - 5, 9)),
             false);
  expect_error(
      [&] {
        import_idx({short_images, labels, out, {}, "second", 0});
      },
      {short_images, "truncated"});
  EXPECT_EQ(std::filesystem::file_size(out), size_before);  // the previous good file survives
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace kiln::io
