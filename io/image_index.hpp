// ImageIndex: which image files make up a dataset and their labels, before anything is decoded.
//   class folders  root/<class>/**/<image>: class names sorted (byte order) → labels 0, 1, ...;
//   files
//                  found recursively; extensions matched case-insensitively; any file name works
//                  (spaces, non-ASCII). The layout of Keras' flow_from_directory and torchvision's
//                  ImageFolder.
//   list files     one "path label" per line (label an integer or a class name), or a CSV with a
//                  header naming the columns "path" and "label"; relative paths are resolved
//                  against the list file's folder; "#" starts a comment line.
// Files with other extensions are not images: they are counted (ignored_files), never silently
// dropped from the count. An empty class folder keeps its label and is reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "nn/task.hpp"

namespace kiln::io {

struct ImageIndex {
  std::vector<std::string> paths;
  std::vector<std::int32_t> labels;      // classification; other tasks: all 0
  std::vector<std::string> class_names;  // regression: the names of the target values
  nn::Task task = nn::Task::kClassification;
  std::vector<float> targets;  // multi_label, regression: paths.size() × class_names.size()
  std::vector<SkippedInput> warnings;  // e.g. an empty class folder
  std::int64_t ignored_files = 0;      // files without an image extension
};

// The extensions kiln looks for (lower case, with the dot).
const std::vector<std::string>& image_extensions();

// Throws kiln::Error when the folder is missing or holds no class folder or no image.
ImageIndex index_class_folders(const std::string& root);

// Throws kiln::Error naming the list file and the line at fault.
ImageIndex index_list_file(const std::string& list_path,
                           const std::vector<std::string>& class_names = {});

// A stratified split: in every class, round(fraction · n) images chosen at random go to the
// validation part, the rest to training; both keep the index order and the class names. Drawn
// from Rng{seed, 0, class, kSlotSplit}: the same seed gives the same split on any machine, and
// adding images to one class does not reshuffle the others. No image is in both parts.
struct IndexSplit {
  ImageIndex train, validation;
};
// The largest fraction of a dataset a validation split may hold out, for `kiln preprocess
// --val-split` and `kiln train`'s data.validation_split alike.
inline constexpr double kMaxValidationFraction = 0.9;
// Throws kiln::ConfigError for a fraction outside (0, kMaxValidationFraction].
IndexSplit split_index(const ImageIndex& index, double fraction, std::uint64_t seed);

// The same draw on a plain label list: held_out[i] says whether sample i is in the validation part.
std::vector<bool> stratified_holdout(const std::vector<std::int32_t>& labels, std::size_t classes,
                                     double fraction, std::uint64_t seed);

// A stratified k-fold split: fold[i] in [0, k) for each sample. Each class is shuffled as above
// (its own stream of the seed) and dealt round-robin, so every fold holds floor or ceil of n/k of
// each class, and the folds of one seed are the same on any machine.
std::vector<std::int32_t> stratified_folds(const std::vector<std::int32_t>& labels,
                                           std::size_t classes, std::int32_t k, std::uint64_t seed);

}  // namespace kiln::io
