#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/image_index.hpp"
#include "nn/error.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ClassFolders, SortedClassesRecursiveFilesAnyNames) {
  testing::TempDir dir;
  const fs::path root = dir.path() / "data";
  touch(root / "zebra" / "b.JPG");             // upper-case extension
  touch(root / "zebra" / "nested" / "a.png");  // found recursively
  touch(root / "ant" / "ant photo.jpeg");      // a space in the name
  touch(root / "ant" / "fourmi_été.webp");     // non-ASCII
  touch(root / "ant" / "notes.txt");           // not an image: counted, not indexed
  fs::create_directories(root / "empty");      // a class without images
  const ImageIndex index = index_class_folders(root.string());
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"ant", "empty", "zebra"}));
  ASSERT_EQ(index.paths.size(), 4u);
  EXPECT_EQ(index.labels, (std::vector<std::int32_t>{0, 0, 2, 2}));
  EXPECT_EQ(fs::path(index.paths[0]).filename(), "ant photo.jpeg");
  EXPECT_EQ(fs::path(index.paths[1]).filename(), "fourmi_été.webp");
  EXPECT_EQ(index.ignored_files, 1);
  ASSERT_EQ(index.warnings.size(), 1u);
  EXPECT_NE(index.warnings[0].reason.find("empty class folder"), std::string::npos);
}

TEST(ClassFolders, ClearErrorsForFoldersWithoutImages) {
  testing::TempDir dir;
  EXPECT_NE(error_of([&] { index_class_folders(dir.file("missing")); }).find("not a folder"),
            std::string::npos);
  fs::create_directories(dir.path() / "flat");
  touch(dir.path() / "flat" / "a.jpg");  // images but no class folders
  EXPECT_NE(error_of([&] { index_class_folders(dir.file("flat")); }).find("no class folders"),
            std::string::npos);
  touch(dir.path() / "none" / "cats" / "readme.md");
  EXPECT_NE(error_of([&] { index_class_folders(dir.file("none")); }).find("no image files"),
            std::string::npos);
}

TEST(ListFile, PathLabelLinesResolvedAgainstTheListFolder) {
  testing::TempDir dir;
  std::ofstream(dir.file("train.txt")) << "# comment\n"
                                          "images/a b.jpg dog\n"
                                          "/abs/c.png cat\n"
                                          "\n"
                                          "images/d.jpg dog\n";
  const ImageIndex index = index_list_file(dir.file("train.txt"));
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"cat", "dog"}));  // sorted
  EXPECT_EQ(index.labels, (std::vector<std::int32_t>{1, 0, 1}));
  EXPECT_EQ(index.paths[0], (dir.path() / "images/a b.jpg").string());
  EXPECT_EQ(index.paths[1], "/abs/c.png");
}

TEST(ListFile, CsvWithHeaderQuotesAndIntegerLabels) {
  testing::TempDir dir;
  std::ofstream(dir.file("list.csv")) << "label,path\n"
                                         "2,\"x, y.jpg\"\n"
                                         "0,z.png\n";
  const ImageIndex index = index_list_file(dir.file("list.csv"));
  EXPECT_EQ(index.labels, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(fs::path(index.paths[0]).filename(), "x, y.jpg");
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"0", "1", "2"}));
}

TEST(ListFile, ErrorsNameTheLine) {
  testing::TempDir dir;
  std::ofstream(dir.file("bad.txt")) << "a.jpg 0\nlonely\n";
  EXPECT_NE(error_of([&] { index_list_file(dir.file("bad.txt")); }).find("bad.txt:2"),
            std::string::npos);
  std::ofstream(dir.file("bad.csv")) << "file,class\na.jpg,0\n";
  EXPECT_NE(error_of([&] { index_list_file(dir.file("bad.csv")); }).find("\"path\" and \"label\""),
            std::string::npos);
  std::ofstream(dir.file("named.txt")) << "a.jpg bird\n";
  EXPECT_NE(error_of([&] {
              index_list_file(dir.file("named.txt"), {"cat", "dog"});
            }).find("named.txt:1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { index_list_file(dir.file("missing.txt")); }).find("cannot open"),
            std::string::npos);
  // Found by fuzz_list: one label of 11111111 made 11 million classes (seconds, 1 GB).
  std::ofstream(dir.file("huge.txt")) << "a.jpg 0\nb.jpg 11111111\n";
  EXPECT_NE(error_of([&] {
              index_list_file(dir.file("huge.txt"));
            }).find("huge.txt:2: label 11111111 would make 11111112 classes"),
            std::string::npos);
}

TEST(Split, StratifiedDisjointAndReproducible) {
  ImageIndex index;
  index.class_names = {"a", "b", "c"};
  for (int i = 0; i < 200; ++i) {
    index.paths.push_back("img" + std::to_string(i));
    index.labels.push_back(i < 100 ? 0 : i < 180 ? 1 : 2);  // 100 / 80 / 20: unbalanced
  }
  const IndexSplit s = split_index(index, 0.25, 7);
  std::vector<int> per_class(3, 0);
  for (const std::int32_t l : s.validation.labels) ++per_class[static_cast<std::size_t>(l)];
  EXPECT_EQ(per_class, (std::vector<int>{25, 20, 5}));  // 25% of every class, not of the whole
  EXPECT_EQ(s.train.paths.size() + s.validation.paths.size(), 200u);
  std::set<std::string> seen(s.train.paths.begin(), s.train.paths.end());
  for (const auto& p : s.validation.paths) EXPECT_FALSE(seen.contains(p)) << p << " in both parts";
  EXPECT_TRUE(std::is_sorted(s.validation.paths.begin(), s.validation.paths.end(),
                             [](const std::string& a, const std::string& b) {
                               return std::stoi(a.substr(3)) < std::stoi(b.substr(3));
                             }));
  EXPECT_EQ(split_index(index, 0.25, 7).validation.paths, s.validation.paths);
  EXPECT_NE(split_index(index, 0.25, 8).validation.paths, s.validation.paths);
  EXPECT_THROW(split_index(index, 1.0, 7), Error);
}

TEST(Folds, EverySampleInOneFoldEachClassSpreadEvenly) {
  std::vector<std::int32_t> labels;
  for (int i = 0; i < 203; ++i) labels.push_back(i < 100 ? 0 : i < 180 ? 1 : 2);  // 100 / 80 / 23
  const std::vector<std::int32_t> fold = stratified_folds(labels, 3, 5, 7);
  ASSERT_EQ(fold.size(), labels.size());
  std::vector<std::vector<int>> count(3, std::vector<int>(5, 0));  // [class][fold]
  for (std::size_t i = 0; i < fold.size(); ++i) {
    ASSERT_TRUE(fold[i] >= 0 && fold[i] < 5) << fold[i];
    ++count[static_cast<std::size_t>(labels[i])][static_cast<std::size_t>(fold[i])];
  }
  for (const auto& per_fold : count) {  // each class: floor or ceil of n/5 in every fold
    EXPECT_LE(*std::max_element(per_fold.begin(), per_fold.end()) -
                  *std::min_element(per_fold.begin(), per_fold.end()),
              1);
  }
  std::vector<int> sizes(5, 0);
  for (const std::int32_t f : fold) ++sizes[static_cast<std::size_t>(f)];
  EXPECT_LE(
      *std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()),
      1);
  EXPECT_EQ(stratified_folds(labels, 3, 5, 7), fold);
  EXPECT_NE(stratified_folds(labels, 3, 5, 8), fold);
  EXPECT_THROW(stratified_folds(labels, 3, 1, 7), Error);
}

}  // namespace
}  // namespace kiln::io
