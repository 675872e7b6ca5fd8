// Multi-label and regression lists (io/target_list.hpp) and the dataset files that store their
// targets, read back by kiln and by h5py.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/dataset_reader.hpp"
#include "io/dataset_writer.hpp"
#include "io/target_list.hpp"
#include "nn/error.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {
namespace fs = std::filesystem;

std::string write_list(const testing::TempDir& dir, const std::string& name,
                       const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& list, const TargetColumns& targets,
                     const std::vector<std::string>& names = {}) {
  try {
    index_target_list(list, targets, names);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TargetList, LabelsColumnOfNamesMakesSortedClasses) {
  testing::TempDir dir;
  const std::string list = write_list(dir, "ml.csv",
                                      "path,labels\n"
                                      "a.png,\"dog cat\"\n"
                                      "# a comment\n"
                                      "sub/b.png,bird;dog\n"
                                      "c.png,\n");
  const ImageIndex index = index_target_list(list, {nn::Task::kMultiLabel, {}});
  EXPECT_EQ(index.task, nn::Task::kMultiLabel);
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(index.targets, (std::vector<float>{0, 1, 1, 1, 0, 1, 0, 0, 0}));
  EXPECT_EQ(index.labels, (std::vector<std::int32_t>{0, 0, 0}));
  ASSERT_EQ(index.paths.size(), 3u);
  EXPECT_EQ(fs::path(index.paths[1]), dir.path() / "sub" / "b.png");
}

TEST(TargetList, PlainListAndGivenClassNames) {
  testing::TempDir dir;
  const std::string list = write_list(dir, "ml.txt", "my photo.png cat,dog\nb.png dog\n");
  const ImageIndex index =
      index_target_list(list, {nn::Task::kMultiLabel, {}}, {"dog", "cat", "fish"});
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"dog", "cat", "fish"}));
  EXPECT_EQ(index.targets, (std::vector<float>{1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(fs::path(index.paths[0]).filename(), "my photo.png");
}

TEST(TargetList, ZeroOneClassColumnsAndPickedColumns) {
  testing::TempDir dir;
  const std::string list =
      write_list(dir, "ml.csv", "cat,path,dog,note\n1,a.png,0,x\n1,b.png,1,y\n");
  const ImageIndex index = index_target_list(list, {nn::Task::kMultiLabel, {"cat", "dog"}});
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(index.targets, (std::vector<float>{1, 0, 1, 1}));
}

TEST(TargetList, RegressionValueColumns) {
  testing::TempDir dir;
  const std::string list =
      write_list(dir, "r.csv", "path,count,angle\na.png,3,-12.5\nb.png,0,1e2\n");
  const ImageIndex all = index_target_list(list, {nn::Task::kRegression, {}});
  EXPECT_EQ(all.class_names, (std::vector<std::string>{"count", "angle"}));
  EXPECT_EQ(all.targets, (std::vector<float>{3, -12.5f, 0, 100}));
  const ImageIndex one = index_target_list(list, {nn::Task::kRegression, {"angle"}});
  EXPECT_EQ(one.targets, (std::vector<float>{-12.5f, 100}));
}

// Every mistake names the file, the line and the column or class at fault.
TEST(TargetList, BadRowsNameTheLineAndTheColumn) {
  testing::TempDir dir;
  const TargetColumns ml{nn::Task::kMultiLabel, {}}, reg{nn::Task::kRegression, {}};
  const std::string unknown = write_list(dir, "u.csv", "path,labels\na.png,cat\nb.png,cat wolf\n");
  EXPECT_EQ(error_of(unknown, ml, {"cat", "dog"}),
            unknown + ":3: class \"wolf\" is not one of the given class names (--class-names)");
  const std::string nan = write_list(dir, "n.csv", "path,count\na.png,1\nb.png,nan\n");
  EXPECT_EQ(error_of(nan, reg),
            nan + ":3: column \"count\" is \"nan\"; regression values must be finite numbers");
  const std::string inf = write_list(dir, "i.csv", "path,count\na.png,inf\n");
  EXPECT_NE(error_of(inf, reg).find(":2: column \"count\" is \"inf\""), std::string::npos);
  const std::string text = write_list(dir, "t.csv", "path,count\na.png,three\n");
  EXPECT_NE(error_of(text, reg).find("must be finite numbers"), std::string::npos);
  const std::string short_row = write_list(dir, "s.csv", "path,count,angle\na.png,1\n");
  EXPECT_EQ(error_of(short_row, reg), short_row + ":2: 2 fields, but the header has 3 columns");
  const std::string not_binary = write_list(dir, "b.csv", "path,cat,dog\na.png,1,2\n");
  EXPECT_EQ(error_of(not_binary, ml),
            not_binary + ":2: column \"dog\" is \"2\"; class columns hold 0 or 1");
  const std::string missing = write_list(dir, "m.csv", "path,count\na.png,1\n");
  EXPECT_NE(error_of(missing, {nn::Task::kRegression, {"angle"}})
                .find("the header has no column \"angle\" (it has path, count)"),
            std::string::npos);
  const std::string plain = write_list(dir, "p.txt", "a.png 3\n");
  EXPECT_NE(error_of(plain, reg).find("regression values come from a CSV list"), std::string::npos);
}

DatasetSpec tiny_spec(nn::Task task, std::vector<std::string> names) {
  DatasetSpec spec;
  spec.height = 2;
  spec.width = 2;
  spec.channels = 1;
  spec.class_names = std::move(names);
  spec.task = task;
  return spec;
}

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[512];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  return status == 0 ? output : "exit " + std::to_string(status) + ": " + output;
}

// The targets are plain arrays to h5py: uint8 (N, K) for multi_label, float32 (N, D) for
// regression, with the task in a root attribute and no /labels.
TEST(TargetDataset, RoundTripsAndReadsBackWithH5py) {
  testing::TempDir dir;
  const std::vector<std::uint8_t> pixels(3 * 4, 7);
  const std::vector<std::int32_t> zeros(3, 0);
  const std::string ml = dir.file("ml.h5"), reg = dir.file("reg.h5");
  {
    DatasetWriter writer(ml, tiny_spec(nn::Task::kMultiLabel, {"cat", "dog"}));
    writer.append(pixels, zeros, DatasetWriter::Counting::kHere,
                  std::vector<float>{1, 0, 1, 1, 0, 0});
    writer.commit();
    DatasetWriter values(reg, tiny_spec(nn::Task::kRegression, {"count"}));
    values.append(pixels, zeros, DatasetWriter::Counting::kHere, std::vector<float>{2.5f, -1, 0});
    values.commit();
  }
  const DatasetReader ml_back(ml), reg_back(reg);
  EXPECT_EQ(ml_back.task(), nn::Task::kMultiLabel);
  EXPECT_EQ(ml_back.targets(), (std::vector<float>{1, 0, 1, 1, 0, 0}));
  EXPECT_EQ(ml_back.target_row(1)[1], 1.f);
  EXPECT_EQ(reg_back.task(), nn::Task::kRegression);
  EXPECT_EQ(reg_back.targets(), (std::vector<float>{2.5f, -1, 0}));
  EXPECT_NE(describe_dataset(reg_back).find("count: min -1, max 2.5"), std::string::npos);
  const std::string script =
      "import h5py, numpy as np\n"
      "m = h5py.File('" +
      ml + "', 'r'); r = h5py.File('" + reg +
      "', 'r')\n"
      "assert m.attrs['task'] in (b'multi_label', 'multi_label'), m.attrs['task']\n"
      "assert 'labels' not in m and 'labels' not in r\n"
      "assert m['targets'].dtype == np.uint8 and r['targets'].dtype == np.float32\n"
      "assert m['targets'][...].tolist() == [[1, 0], [1, 1], [0, 0]]\n"
      "assert r['targets'][...].tolist() == [[2.5], [-1.0], [0.0]]\n"
      "print('ok')\n";
  std::ofstream(dir.file("check.py")) << script;
  EXPECT_EQ(run("/usr/bin/python3 " + dir.file("check.py")), "ok\n");
}

TEST(TargetDataset, RefusesTargetsThatDoNotFitTheTask) {
  testing::TempDir dir;
  const std::vector<std::uint8_t> pixels(4, 7);
  const std::vector<std::int32_t> zero(1, 0);
  DatasetWriter ml(dir.file("ml.h5"), tiny_spec(nn::Task::kMultiLabel, {"cat", "dog"}));
  EXPECT_THROW(ml.append(pixels, zero, DatasetWriter::Counting::kHere, std::vector<float>{1, 0.5f}),
               Error);
  EXPECT_THROW(ml.append(pixels, zero, DatasetWriter::Counting::kHere, std::vector<float>{1}),
               Error);
  DatasetWriter reg(dir.file("reg.h5"), tiny_spec(nn::Task::kRegression, {"v"}));
  EXPECT_THROW(reg.append(pixels, zero, DatasetWriter::Counting::kHere,
                          std::vector<float>{std::numeric_limits<float>::infinity()}),
               Error);
}

}  // namespace
}  // namespace kiln::io
