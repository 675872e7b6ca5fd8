// import_idx: an IDX image file and its IDX label file → one kiln HDF5 dataset.
// Streams in blocks, so memory stays small whatever the file size; checks that both files agree
// before writing anything, and writes atomically (a failure leaves no output file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

struct IdxImport {
  std::string images_path;
  std::string labels_path;
  std::string output_path;
  std::vector<std::string> class_names;  // empty: "0", "1", ... up to the largest label
  std::string command_line;
  int gzip_level = 0;
  bool checksum = true;  // Fletcher-32 per chunk (DatasetSpec::checksum)
};

struct ImportSummary {
  std::int64_t images = 0;
  std::int64_t height = 0, width = 0, channels = 0;
  std::int64_t classes = 0;
};

// Throws kiln::Error naming the file at fault; no output file is left behind then.
ImportSummary import_idx(const IdxImport& request);

}  // namespace kiln::io
