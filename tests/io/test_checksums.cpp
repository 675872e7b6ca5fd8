// Fletcher-32 checksums: bytes flipped inside a dataset's image data or a model's weights (by
// tests/io/damage_hdf5.py, at the offsets h5py reports) fail the read with one error naming the
// file, the dataset and the rows, instead of giving altered pixels or weights; HDF5's own
// checksums do the same for the metadata.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/dataset_reader.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/model/zoo.hpp"
#include "nn/training/optimizer.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

// False when h5py is missing (the caller skips).
bool damage(const std::string& file, const std::string& dataset, int chunk = 0) {
  const std::string command = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                              "/io/damage_hdf5.py " + file + " " + dataset + " --chunk " +
                              std::to_string(chunk) + " > /dev/null";
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return false;
  EXPECT_EQ(status, 0) << command;
  return true;
}

std::string read_all_error(const std::string& path) {
  try {
    DatasetReader reader(path);
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(reader.image_bytes()));
    for (std::int64_t i = 0; i < reader.size(); ++i) reader.read_image(i, pixels);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checksums, DamagedImageDataFailsItsReadNamingTheRows) {
  testing::TempDir dir;
  const std::string path = dir.file("data.h5");
  // 16x16x3 = 768-byte images: 85 per 64 KiB chunk; 300 images, 4 chunks.
  testing::write_indexed_dataset(path, 300, 16, 16, 3, 4);
  ASSERT_EQ(read_all_error(path), "no error");
  if (!damage(path, "images", 1)) GTEST_SKIP() << "needs python3-h5py";
  const std::string e = read_all_error(path);
  EXPECT_NE(e.find(path + ": /images: reading rows [85, 86) failed its Fletcher-32 checksum: the "
                          "file is damaged"),
            std::string::npos)
      << e;
}

TEST(Checksums, WithoutThemDamageGoesUnnoticed) {
  testing::TempDir dir;
  const std::string path = dir.file("data.h5");
  io::DatasetSpec spec;
  spec.height = spec.width = 16;
  spec.channels = 3;
  spec.class_names = {"a", "b"};
  spec.checksum = false;
  {
    io::DatasetWriter writer(path, spec);
    const std::vector<std::uint8_t> images(300 * 768, 7);
    const std::vector<std::int32_t> labels(300, 1);
    writer.append(images, labels);
    writer.commit();
  }
  if (!damage(path, "images")) GTEST_SKIP() << "needs python3-h5py";
  EXPECT_EQ(read_all_error(path), "no error");  // what --no-checksum gives up
}

TEST(Checksums, DamagedWeightsFailTheModelLoad) {
  testing::TempDir dir;
  const std::string path = dir.file("model.h5");
  nn::Model model =
      nn::Model::from_config(nn::builtin_model("mnist_cnn", {1, 1, 28, 28}, 10, Json::object()));
  model.initialize(1);
  const auto optimizer = nn::make_optimizer({{"type", "sgd"}});
  std::vector<std::string> classes;
  for (int k = 0; k < 10; ++k) classes.push_back(std::to_string(k));
  save_model(path, model, *optimizer, {}, {{"normalization", nullptr}}, classes);
  EXPECT_NO_THROW(load_model(path));
  if (!damage(path, "weights/02_conv2d/weight")) GTEST_SKIP() << "needs python3-h5py";
  try {
    load_model(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": /weights/02_conv2d/weight: reading it failed "
                                                "its Fletcher-32 checksum"),
              std::string::npos)
        << e.what();
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The metadata too: kiln writes HDF5's 1.8 format, whose superblock and object headers are
// checksummed, and keeps no global heap (strings are fixed-length), so a damaged byte in an
// object header is an error, and large string attributes (21,000 class names) still fit.
TEST(Checksums, MetadataIsChecksummedAndThereIsNoGlobalHeap) {
  testing::TempDir dir;
  const std::string path = dir.file("model.h5");
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 4, 4}, 3));
  model.initialize(1);
  const auto optimizer = nn::make_optimizer({{"type", "sgd"}});
  std::vector<std::string> classes;
  for (int k = 0; k < 21000; ++k) classes.push_back("n" + std::to_string(k) + " ünïcödé class");
  classes[7] = "";
  save_model(path, model, *optimizer, {}, {{"normalization", nullptr}}, classes);
  EXPECT_EQ(load_model(path).class_names, classes);

  std::string bytes = file_bytes(path);
  ASSERT_EQ(bytes.compare(0, 8, "\x89HDF\r\n\x1a\n"), 0);
  EXPECT_GE(static_cast<int>(bytes[8]), 2) << "superblock version: 2 and later are checksummed";
  EXPECT_EQ(bytes.find("GCOL"), std::string::npos) << "a global heap collection";
  const std::size_t header = bytes.find("OHDR");
  ASSERT_NE(header, std::string::npos) << "no version 2 object header";
  // Flip a byte inside the first object header's messages.
  bytes[header + 12] = static_cast<char>(~bytes[header + 12]);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    load_model(path);
    FAIL() << "a damaged object header loaded";
  } catch (const Error& e) {
    // Named as damage, not mistaken for a file of another kind or a missing attribute.
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the file is damaged"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::io
