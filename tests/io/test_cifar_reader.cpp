#include <gtest/gtest.h>

#include <fstream>

#include "io/cifar_reader.hpp"
#include "nn/error.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

// One record: label byte(s), then R, G, B planes of 32x32 where R = i, G = 100, B = label.
std::vector<std::uint8_t> record(std::vector<std::uint8_t> labels, std::uint8_t b) {
  std::vector<std::uint8_t> r = std::move(labels);
  for (int i = 0; i < 1024; ++i) r.push_back(static_cast<std::uint8_t>(i % 256));
  for (int i = 0; i < 1024; ++i) r.push_back(100);
  for (int i = 0; i < 1024; ++i) r.push_back(b);
  return r;
}

TEST(Cifar, TenReadsPlanesAsInterleavedRgb) {
  testing::TempDir dir;
  std::vector<std::uint8_t> file = record({3}, 3), second = record({9}, 9);
  file.insert(file.end(), second.begin(), second.end());
  testing::write_bytes(dir.file("data_batch_1.bin"), file);
  testing::write_bytes(dir.file("data_batch_2.bin"), record({0}, 0));
  const CifarData d =
      read_cifar({dir.file("data_batch_1.bin"), dir.file("data_batch_2.bin")}, CifarKind::kCifar10);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{3, 9, 0}));
  ASSERT_EQ(d.images.size(), 3u * 3072u);
  // Pixel 5 of image 1: (R, G, B) = (5, 100, 9).
  EXPECT_EQ(d.images[3072 + 5 * 3 + 0], 5);
  EXPECT_EQ(d.images[3072 + 5 * 3 + 1], 100);
  EXPECT_EQ(d.images[3072 + 5 * 3 + 2], 9);
  EXPECT_EQ(d.class_names[3], "cat");
}

TEST(Cifar, HundredFineOrCoarseWithNamesBesideTheFile) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("train.bin"), record({7, 42}, 1));
  std::ofstream names(dir.file("coarse_label_names.txt"));
  for (int c = 0; c < 20; ++c) names << "coarse" << c << "\n";
  names.close();
  EXPECT_EQ(read_cifar({dir.file("train.bin")}, CifarKind::kCifar100Fine).labels[0], 42);
  const CifarData coarse = read_cifar({dir.file("train.bin")}, CifarKind::kCifar100Coarse);
  EXPECT_EQ(coarse.labels[0], 7);
  EXPECT_EQ(coarse.class_names[7], "coarse7");
}

TEST(Cifar, LengthThatIsNotWholeRecordsNamesTheFile) {
  testing::TempDir dir;
  std::vector<std::uint8_t> file = record({1}, 1);
  file.resize(file.size() - 10);
  testing::write_bytes(dir.file("short.bin"), file);
  try {
    read_cifar({dir.file("short.bin")}, CifarKind::kCifar10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("3063 bytes"), std::string::npos) << e.what();
  }
  // A CIFAR-100 file read as CIFAR-10: 3074-byte records do not divide, or labels overflow.
  testing::write_bytes(dir.file("hundred.bin"), record({1, 55}, 1));
  EXPECT_THROW(read_cifar({dir.file("hundred.bin")}, CifarKind::kCifar10), Error);
}

}  // namespace
}  // namespace kiln::io
