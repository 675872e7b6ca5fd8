#include "io/opencv_codecs.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

namespace fs = std::filesystem;

constexpr int kAbi = 1;  // io/plugins/opencv_codecs.cpp: kiln_opencv_codecs_abi()
constexpr const char* kPluginName = "libkiln_opencv_codecs.so";

using DecodeFn = void (*)(const cv::Mat*, int, cv::Mat*, std::string*);
using EncodeFn = void (*)(const std::string*, const cv::Mat*, const std::vector<int>*,
                          std::vector<std::uint8_t>*, std::string*);

struct Plugin {
  DecodeFn decode = nullptr;
  EncodeFn encode = nullptr;
};

std::vector<fs::path> candidate_paths() {
  if (const char* chosen = std::getenv("KILN_OPENCV_CODECS"); chosen && *chosen) return {chosen};
  std::vector<fs::path> paths;
  std::error_code ec;
  const fs::path program = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back(program.parent_path().parent_path() / "lib" / "kiln" / kPluginName);
  paths.push_back(fs::path(KILN_PLUGIN_INSTALL_DIR) / kPluginName);
  paths.push_back(fs::path(KILN_PLUGIN_BUILD_DIR) / kPluginName);
  return paths;
}

// Opens the first candidate that loads and has this kiln's ABI; the plugin stays loaded for the
// life of the process (it is never dlclose'd: OpenCV registers codecs in static objects).
Plugin load_plugin() {
  std::string tried;
  for (const fs::path& path : candidate_paths()) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += "\n  " + path.string() + ": " + (fs::exists(path) ? dlerror() : "not there");
      continue;
    }
    auto abi = reinterpret_cast<int (*)()>(dlsym(handle, "kiln_opencv_codecs_abi"));
    Plugin plugin{reinterpret_cast<DecodeFn>(dlsym(handle, "kiln_opencv_decode")),
                  reinterpret_cast<EncodeFn>(dlsym(handle, "kiln_opencv_encode"))};
    if (abi && abi() == kAbi && plugin.decode && plugin.encode) return plugin;
    tried += "\n  " + path.string() + ": not this kiln's plugin (" +
             (abi ? "ABI " + std::to_string(abi()) : std::string("no ABI number")) +
             ", this kiln needs ABI " + std::to_string(kAbi) + ")";
    dlclose(handle);
  }
  throw Error(std::string("kiln needs its OpenCV codec plugin ") + kPluginName +
              " for PNG, BMP, TIFF, WebP, PNM and CMYK JPEG images and for writing PNGs, and "
              "could not load it from:" +
              tried +
              "\nReinstall kiln (cmake --install puts it in lib/kiln/), or set "
              "KILN_OPENCV_CODECS to its path.");
}

// Loaded once, on first use, by whichever thread gets there first. A failed load throws and is
// tried again by the next call (C++ retries a static initialisation that threw).
const Plugin& plugin() {
  static const Plugin loaded = load_plugin();
  return loaded;
}

}  // namespace

cv::Mat opencv_decode(std::span<const std::uint8_t> bytes, int flags, std::string& error) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    error = std::to_string(bytes.size()) + " bytes: OpenCV decodes files of at most 2 GiB";
    return {};
  }
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                       const_cast<std::uint8_t*>(bytes.data()));
  cv::Mat image;
  plugin().decode(&buffer, flags, &image, &error);
  return image;
}

std::vector<std::uint8_t> opencv_encode(const std::string& extension, const cv::Mat& image,
                                        const std::vector<int>& params, const std::string& what) {
  std::vector<std::uint8_t> bytes;
  std::string error;
  plugin().encode(&extension, &image, &params, &bytes, &error);
  if (!error.empty()) throw Error(what + ": could not encode it as " + extension + ": " + error);
  return bytes;
}

}  // namespace kiln::io
