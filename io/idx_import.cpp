#include "io/idx_import.hpp"

#include <algorithm>
#include <filesystem>

#include "io/dataset_writer.hpp"
#include "io/idx_reader.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace {
constexpr std::uint64_t kBlockImages = 4096;
}  // namespace

ImportSummary import_idx(const IdxImport& request) {
  IdxReader images(request.images_path);
  const auto& dims = images.dims();
  if (dims.size() != 3 && dims.size() != 4) {
    throw Error(request.images_path +
                ": an IDX image file has 3 dimensions (N, H, W) or 4 (N, H, W, C); "
                "this one has " +
                std::to_string(dims.size()) +
                (dims.size() == 1 ? " (is it a label file? pass it with --labels)" : ""));
  }
  const std::int64_t channels = dims.size() == 4 ? dims[3] : 1;
  if (channels != 1 && channels != 3) {
    throw Error(request.images_path + ": images with " + std::to_string(channels) +
                " channels are not supported; kiln stores 1 (grey) or 3 (RGB)");
  }
  const std::vector<std::int32_t> labels = read_idx_labels(request.labels_path);
  if (labels.size() != images.count()) {
    throw Error(request.labels_path + ": holds " + std::to_string(labels.size()) + " labels but " +
                request.images_path + " holds " + std::to_string(images.count()) +
                " images; pass the label file that belongs to these images");
  }
  if (labels.empty()) throw Error(request.images_path + ": holds no images");

  const std::int32_t max_label = *std::max_element(labels.begin(), labels.end());
  std::vector<std::string> class_names = request.class_names;
  if (class_names.empty()) {
    for (std::int32_t c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));
  } else if (static_cast<std::int64_t>(class_names.size()) <= max_label) {
    throw Error(request.labels_path + ": has label " + std::to_string(max_label) + " but only " +
                std::to_string(class_names.size()) + " class names were given; give one per class");
  }

  DatasetSpec spec;
  spec.height = dims[1];
  spec.width = dims[2];
  spec.channels = channels;
  spec.class_names = class_names;
  spec.channel_order = channels == 1 ? "L" : "RGB";
  spec.source = std::filesystem::weakly_canonical(request.images_path).string() + " + " +
                std::filesystem::weakly_canonical(request.labels_path).string();
  spec.command_line = request.command_line;
  spec.gzip_level = request.gzip_level;
  spec.checksum = request.checksum;
  DatasetWriter writer(request.output_path, spec);

  std::vector<std::uint8_t> block;
  for (std::uint64_t first = 0; first < images.count(); first += kBlockImages) {
    const std::uint64_t n = std::min<std::uint64_t>(kBlockImages, images.count() - first);
    block.resize(n * images.item_bytes());
    images.read(block);
    writer.append(block, std::span(labels).subspan(first, n));
  }
  images.expect_end();
  writer.commit();
  return {static_cast<std::int64_t>(labels.size()), spec.height, spec.width, channels,
          static_cast<std::int64_t>(class_names.size())};
}

}  // namespace kiln::io
