#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/dataset_reader.hpp"
#include "io/dataset_writer.hpp"
#include "nn/error.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

DatasetSpec rgb_spec() {
  DatasetSpec spec;
  spec.height = 3;
  spec.width = 2;
  spec.channels = 3;
  spec.class_names = {"cat", "dog", "ünïcödé"};
  spec.source = "unit test";
  spec.command_line = "kiln preprocess test";
  return spec;
}

std::vector<std::uint8_t> pattern(std::size_t n, int salt) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31 + salt) % 256);
  return v;
}

TEST(DatasetFile, RoundTripsImagesLabelsAndAttributes) {
  testing::TempDir dir;
  const std::string path = dir.file("data.h5");
  const auto images = pattern(5 * 18, 3);
  const std::vector<std::int32_t> labels = {0, 2, 1, 1, 0};
  {
    DatasetWriter writer(path, rgb_spec());
    writer.append(std::span(images).first(2 * 18), std::span(labels).first(2));
    writer.append(std::span(images).subspan(2 * 18), std::span(labels).subspan(2));
    writer.record_skipped({"bad.jpg", "truncated"});
    writer.commit();
  }
  DatasetReader reader(path);
  EXPECT_EQ(reader.size(), 5);
  EXPECT_EQ(reader.height(), 3);
  EXPECT_EQ(reader.width(), 2);
  EXPECT_EQ(reader.channels(), 3);
  EXPECT_EQ(reader.channel_order(), "RGB");
  EXPECT_EQ(reader.class_names(), rgb_spec().class_names);
  EXPECT_EQ(reader.labels(), labels);
  ASSERT_EQ(reader.skipped().size(), 1u);
  EXPECT_EQ(reader.skipped()[0].reason, "truncated");

  std::vector<std::uint8_t> all(5 * 18);
  reader.read_images(0, 5, all);
  EXPECT_EQ(all, images);
  std::vector<std::uint8_t> third(18);
  reader.read_image(3, third);
  EXPECT_EQ(third, std::vector<std::uint8_t>(images.begin() + 54, images.begin() + 72));

  // Per-channel statistics against a direct computation.
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sum_sq = 0;
    int n = 0;
    for (std::size_t i = static_cast<std::size_t>(c); i < images.size(); i += 3, ++n) {
      sum += images[i];
      sum_sq += images[i] * images[i];
    }
    const double mean = sum / n;
    EXPECT_NEAR(reader.statistics().mean[static_cast<std::size_t>(c)], mean, 1e-9);
    EXPECT_NEAR(reader.statistics().std[static_cast<std::size_t>(c)],
                std::sqrt(sum_sq / n - mean * mean), 1e-9);
  }
  EXPECT_EQ(reader.statistics().count, 5 * 6);
  // The mean image: each (y, x, c) position averaged over the 5 images.
  ASSERT_EQ(reader.statistics().mean_image.size(), 18u);
  for (std::size_t k = 0; k < 18; ++k) {
    double sum = 0;
    for (int i = 0; i < 5; ++i) sum += images[static_cast<std::size_t>(i) * 18 + k];
    EXPECT_NEAR(reader.statistics().mean_image[k], sum / 5, 1e-12) << k;
  }
  // The channel covariance against a two-pass computation (mean first, then centred products).
  ASSERT_EQ(reader.statistics().covariance.size(), 9u);
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      const double ma = reader.statistics().mean[static_cast<std::size_t>(a)];
      const double mb = reader.statistics().mean[static_cast<std::size_t>(b)];
      double cov = 0;
      for (std::size_t i = 0; i < images.size(); i += 3)
        cov += (images[i + a] - ma) * (images[i + b] - mb);
      EXPECT_NEAR(reader.statistics().covariance[static_cast<std::size_t>(a * 3 + b)], cov / 30,
                  1e-9)
          << a << "," << b;
    }
  }
}

TEST(DatasetFile, CompressedFilesReadTheSame) {
  testing::TempDir dir;
  DatasetSpec spec = rgb_spec();
  spec.gzip_level = 6;
  const auto images = pattern(4 * 18, 1);
  const std::vector<std::int32_t> labels = {0, 1, 2, 0};
  DatasetWriter writer(dir.file("z.h5"), spec);
  writer.append(images, labels);
  writer.commit();
  DatasetReader reader(dir.file("z.h5"));
  std::vector<std::uint8_t> all(images.size());
  reader.read_images(0, 4, all);
  EXPECT_EQ(all, images);
}

TEST(DatasetFile, UncommittedWriterLeavesNothing) {
  testing::TempDir dir;
  {
    DatasetWriter writer(dir.file("data.h5"), rgb_spec());
    const auto images = pattern(18, 0);
    const std::vector<std::int32_t> labels = {1};
    writer.append(images, labels);
  }  // destroyed without commit, as when preprocess fails half-way
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(DatasetFile, RejectsLabelsOutsideTheClasses) {
  testing::TempDir dir;
  DatasetWriter writer(dir.file("data.h5"), rgb_spec());
  const auto images = pattern(18, 0);
  const std::vector<std::int32_t> labels = {3};
  EXPECT_THROW(writer.append(images, labels), Error);
}

TEST(DatasetFile, ReaderRejectsFilesThatAreNotKilnDatasets) {
  testing::TempDir dir;
  std::ofstream(dir.file("text.h5")) << "hello";
  try {
    DatasetReader r(dir.file("text.h5"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DatasetReader(dir.file("missing.h5")), Error);
  EXPECT_THROW(DatasetReader(dir.path().string()), Error);  // a folder
}

TEST(DatasetFile, ReadOutOfRangeIsAnError) {
  testing::TempDir dir;
  DatasetWriter writer(dir.file("d.h5"), rgb_spec());
  const auto images = pattern(18, 0);
  const std::vector<std::int32_t> labels = {1};
  writer.append(images, labels);
  writer.commit();
  DatasetReader reader(dir.file("d.h5"));
  std::vector<std::uint8_t> one(18);
  EXPECT_THROW(reader.read_image(1, one), Error);
}

// h5py (another implementation of the format) reads the file as plain arrays.
TEST(DatasetFile, ReadsBackWithH5py) {
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-h5py is not installed";
  }
  testing::TempDir dir;
  const std::string path = dir.file("data.h5");
  const auto images = pattern(5 * 18, 3);
  const std::vector<std::int32_t> labels = {0, 2, 1, 1, 0};
  DatasetWriter writer(path, rgb_spec());
  writer.append(images, labels);
  writer.commit();
  const std::string script = std::string(KILN_TEST_SOURCE_DIR) + "/io/read_with_h5py.py";
  // The script checks shapes, dtypes, labels and pixels against the same pattern formula.
  const std::string cmd = "/usr/bin/python3 " + script + " " + path + " 2>&1";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}

// Variable-size files: per-image bytes with offsets and shapes, read back by h5py too.
TEST(DatasetFile, RaggedRawImagesRoundTripAndReadBackWithH5py) {
  testing::TempDir dir;
  const std::string path = dir.file("ragged.h5");
  DatasetSpec spec = rgb_spec();
  spec.height = spec.width = 0;
  spec.encoding = "raw";
  spec.short_side = 2;
  const std::pair<int, int> sizes[] = {{2, 3}, {4, 1}, {2, 5}};
  const std::int32_t labels[] = {2, 0, 1};
  std::vector<std::vector<std::uint8_t>> pixels;
  {
    DatasetWriter writer(path, spec);
    for (int i = 0; i < 3; ++i) {
      const auto [h, w] = sizes[i];
      std::vector<std::uint8_t> p(static_cast<std::size_t>(h * w * 3));
      for (std::size_t k = 0; k < p.size(); ++k)
        p[k] = static_cast<std::uint8_t>((k * 7 + i) % 256);
      writer.append_ragged(p, h, w, p, labels[i]);
      pixels.push_back(p);
    }
    EXPECT_THROW(writer.append(pixels[0], std::vector<std::int32_t>{0}), Error);
    writer.commit();
  }
  const DatasetReader reader(path);
  ASSERT_TRUE(reader.ragged());
  EXPECT_EQ(reader.size(), 3);
  EXPECT_EQ(reader.channels(), 3);
  for (int i = 0; i < 3; ++i) {
    const cv::Mat image = reader.read_mat(i);
    EXPECT_EQ(image.size(), cv::Size(sizes[i].second, sizes[i].first));
    EXPECT_TRUE(std::equal(pixels[i].begin(), pixels[i].end(), image.data)) << i;
  }
  EXPECT_NE(describe_dataset(reader).find("variable size, stored raw"), std::string::npos);
  // The statistics cover every pixel of every image.
  EXPECT_EQ(reader.statistics().count, 6 + 4 + 10);

  if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-h5py is not installed";
  }
  const std::string cmd = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                          "/io/read_ragged_with_h5py.py " + path + " 2>&1";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}

}  // namespace
}  // namespace kiln::io
