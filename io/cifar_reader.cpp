#include "io/cifar_reader.hpp"

#include <filesystem>
#include <fstream>

#include "io/decode.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace {

constexpr std::size_t kPlane = 32 * 32;
constexpr std::size_t kPixels = 3 * kPlane;

std::vector<std::string> names_beside(const std::string& batch, CifarKind kind) {
  const char* file = kind == CifarKind::kCifar10        ? "batches.meta.txt"
                     : kind == CifarKind::kCifar100Fine ? "fine_label_names.txt"
                                                        : "coarse_label_names.txt";
  std::ifstream in(std::filesystem::path(batch).parent_path() / file);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace

CifarData read_cifar(const std::vector<std::string>& paths, CifarKind kind) {
  const std::size_t label_bytes = kind == CifarKind::kCifar10 ? 1 : 2;
  const std::size_t label_at = kind == CifarKind::kCifar100Fine ? 1 : 0;
  const std::size_t record = label_bytes + kPixels;
  const std::int32_t classes = kind == CifarKind::kCifar10        ? 10
                               : kind == CifarKind::kCifar100Fine ? 100
                                                                  : 20;
  CifarData data;
  for (const std::string& path : paths) {
    std::vector<std::uint8_t> bytes;
    std::string error;
    if (!read_file(path, bytes, error)) throw Error(path + ": " + error);
    if (bytes.empty() || bytes.size() % record != 0) {
      throw Error(
          path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
          std::to_string(record) + "-byte " + (label_bytes == 1 ? "CIFAR-10" : "CIFAR-100") +
          " records; is it the right kind of file (--cifar 10 or 100), complete and uncompressed?");
    }
    for (std::size_t at = 0; at < bytes.size(); at += record) {
      const std::int32_t label = bytes[at + label_at];
      if (label >= classes) {
        throw Error(path + ": record " + std::to_string(at / record) + " has label " +
                    std::to_string(label) + ", outside the " + std::to_string(classes) +
                    " classes; is it a CIFAR-100 file read as CIFAR-10?");
      }
      data.labels.push_back(label);
      const std::uint8_t* planes = bytes.data() + at + label_bytes;  // R plane, G plane, B plane
      for (std::size_t i = 0; i < kPlane; ++i) {
        data.images.push_back(planes[i]);
        data.images.push_back(planes[kPlane + i]);
        data.images.push_back(planes[2 * kPlane + i]);
      }
    }
  }
  data.class_names = names_beside(paths.front(), kind);
  if (static_cast<std::int32_t>(data.class_names.size()) != classes) {
    data.class_names.clear();
    if (kind == CifarKind::kCifar10) {
      data.class_names = {"airplane", "automobile", "bird",  "cat",  "deer",
                          "dog",      "frog",       "horse", "ship", "truck"};
    } else {
      for (std::int32_t c = 0; c < classes; ++c) data.class_names.push_back(std::to_string(c));
    }
  }
  return data;
}

}  // namespace kiln::io
