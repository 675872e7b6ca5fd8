// FolderDataset: a folder of class folders, stored for the length of one run in a temporary kiln
// dataset that is removed afterwards — how `kiln train FOLDER` and `kiln evaluate MODEL FOLDER`
// read folders without a separate preprocess step. The files go through build_dataset (decode
// checks, skip policy, fitted statistics) like any preprocess; with encoding "original" the images
// keep their own bytes, so training decodes each file once per epoch, as a DataLoader would.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "pipeline/dataset/dataset_builder.hpp"

namespace kiln::pipeline {

class FolderDataset {
 public:
  // `options` give the storage (output_path is chosen here). With `class_names`, labels follow
  // those names instead of the folder's own sorted order (so a folder holding some of a model's
  // classes lines up); a class folder not among them is an error naming it.
  FolderDataset(const std::string& folder, BuildOptions options,
                const std::vector<std::string>& class_names = {},
                const std::function<void(std::int64_t, std::int64_t)>& progress = {});
  ~FolderDataset();
  FolderDataset(const FolderDataset&) = delete;
  FolderDataset& operator=(const FolderDataset&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& sources() const { return sources_; }  // per stored row
  const std::vector<io::SkippedInput>& skipped() const { return skipped_; }

 private:
  std::string path_;
  std::vector<std::string> sources_;
  std::vector<io::SkippedInput> skipped_;
};

}  // namespace kiln::pipeline
