#include "pipeline/dataset/folder_dataset.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "io/image_index.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {

namespace fs = std::filesystem;

FolderDataset::FolderDataset(const std::string& folder, BuildOptions options,
                             const std::vector<std::string>& class_names,
                             const std::function<void(std::int64_t, std::int64_t)>& progress) {
  io::ImageIndex index = io::index_class_folders(folder);
  if (!class_names.empty()) {
    std::vector<std::int32_t> to_named(index.class_names.size());
    for (std::size_t c = 0; c < index.class_names.size(); ++c) {
      const auto it = std::find(class_names.begin(), class_names.end(), index.class_names[c]);
      if (it == class_names.end()) {
        std::string known;
        for (const auto& n : class_names) known += (known.empty() ? "" : ", ") + n;
        throw Error(folder + ": class folder '" + index.class_names[c] +
                    "' is not one of the model's classes (" + known + ")");
      }
      to_named[c] = static_cast<std::int32_t>(it - class_names.begin());
    }
    for (std::int32_t& label : index.labels) label = to_named[static_cast<std::size_t>(label)];
    index.class_names = class_names;
  }
  static std::atomic<int> counter{0};
  path_ = (fs::temp_directory_path() /
           ("kiln-folder-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".h5"))
              .string();
  options.output_path = path_;
  options.source = folder;
  const BuildSummary summary = build_dataset(index, options, progress);
  // The rows of the file are the index's images minus the skipped ones, in order.
  std::size_t skipped = 0;
  for (const std::string& path : index.paths) {
    if (skipped < summary.skipped.size() && summary.skipped[skipped].path == path) {
      ++skipped;
      continue;
    }
    sources_.push_back(path);
  }
  skipped_ = summary.skipped;
}

FolderDataset::~FolderDataset() {
  std::error_code ignored;
  fs::remove(path_, ignored);
}

}  // namespace kiln::pipeline
