// libkiln_opencv_codecs.so: the one kiln binary linked against OpenCV's imgcodecs, loaded with
// dlopen by io/opencv_codecs.cpp when an image first needs it (that file says why).
//
// The functions take C++ objects through C linkage: the plugin is built in the same build as
// the library that loads it, against the same OpenCV and libstdc++, and the ABI number below
// rejects a plugin left over from another kiln version. No exception crosses the boundary.
#include <cstdint>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#define KILN_PLUGIN_API extern "C" __attribute__((visibility("default")))

KILN_PLUGIN_API int kiln_opencv_codecs_abi() { return 1; }

KILN_PLUGIN_API void kiln_opencv_decode(const cv::Mat* bytes, int flags, cv::Mat* image,
                                        std::string* error) {
  try {
    *image = cv::imdecode(*bytes, flags);
  } catch (const std::exception& e) {
    *image = cv::Mat();
    *error = e.what();
  }
}

KILN_PLUGIN_API void kiln_opencv_encode(const std::string* extension, const cv::Mat* image,
                                        const std::vector<int>* params,
                                        std::vector<std::uint8_t>* bytes, std::string* error) {
  try {
    if (!cv::imencode(*extension, *image, *bytes, *params)) *error = "OpenCV refused to encode it";
  } catch (const std::exception& e) {
    *error = e.what();
  }
}
