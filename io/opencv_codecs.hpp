// OpenCV's image codecs (imgcodecs), loaded the first time an image needs them.
//
// Why not link them: Debian's libopencv_imgcodecs brings ~120 shared libraries with it (GDAL,
// GDCM, Poppler, ...) whose loading and static constructors cost ~55 ms at the start of every
// kiln command, measured — 12% of preprocessing 1000 photos — while kiln decodes and encodes
// JPEG itself (io/jpeg.hpp) and needs OpenCV only for the other formats and for PNGs. The calls
// go through a small plugin, libkiln_opencv_codecs.so (io/plugins/opencv_codecs.cpp), that is
// the only kiln binary linked against imgcodecs.
//
// The plugin is looked for, in order: $KILN_OPENCV_CODECS (a path, and then only there); beside
// the running program as ../lib/kiln/ (an installed kiln: bin/kiln and lib/kiln/, and the build
// tree: build/*/apps/kiln and build/*/lib/kiln/); the install prefix's lib/kiln/; the build
// tree's. Not found: kiln::Error naming every place tried, thrown by the first call that needs it.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

namespace kiln::io {

// cv::imdecode(bytes, flags). An empty image when OpenCV cannot decode the bytes; `error` then
// holds OpenCV's exception text if it threw one, or says that the file is over OpenCV's 2 GiB.
cv::Mat opencv_decode(std::span<const std::uint8_t> bytes, int flags, std::string& error);

// cv::imencode(extension, image, params): e.g. ".png" bytes of a BGR (or grey) image.
// Throws kiln::Error naming `what` when OpenCV cannot encode it.
std::vector<std::uint8_t> opencv_encode(const std::string& extension, const cv::Mat& image,
                                        const std::vector<int>& params, const std::string& what);

}  // namespace kiln::io
