// encode_limit: the ceiling for `kiln preprocess --short-side 256 --store jpeg`, which must
// decode, resize and encode again. ../shared/bench/decode_limit.cpp times the first two; this
// adds the third, the same way: every *.jpg under a folder read into memory first, TurboJPEG
// decode (RGB), cv::resize to short side 256 (bilinear), TurboJPEG encode (quality 90, 4:2:0)
// in a tbb::parallel_for on 2 threads, nothing written. Prints images/s for each repetition.
// Built and run by scripts/bench-preprocess-vs-peers.sh.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <turbojpeg.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS [reps=5]\n", argv[0]);
    return 2;
  }
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  cv::setNumThreads(1);  // parallel over images only, as decode_limit.cpp
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(argv[1]))
    if (entry.path().extension() == ".jpg") paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  std::vector<std::vector<unsigned char>> files;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  tbb::task_arena arena(2);
  for (int rep = 0; rep <= reps; ++rep) {  // repetition 0 warms up
    const auto start = std::chrono::steady_clock::now();
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, files.size(), [&](std::size_t i) {
        thread_local tjhandle decoder = tjInitDecompress(), encoder = tjInitCompress();
        auto* bytes = files[i].data();
        const auto size = static_cast<unsigned long>(files[i].size());
        int w = 0, h = 0, subsampling = 0, colourspace = 0;
        cv::Mat image;
        if (tjDecompressHeader3(decoder, bytes, size, &w, &h, &subsampling, &colourspace) == 0) {
          image.create(h, w, CV_8UC3);
          if (tjDecompress2(decoder, bytes, size, image.data, w, 0, h, TJPF_RGB, 0) != 0)
            image.release();
        }
        if (image.empty()) {
          std::fprintf(stderr, "cannot decode %s\n", paths[i].c_str());
          std::abort();
        }
        const double scale = 256.0 / std::min(w, h);
        cv::Mat resized;
        cv::resize(image, resized, cv::Size(), scale, scale, cv::INTER_LINEAR);
        unsigned char* jpeg = nullptr;
        unsigned long jpeg_size = 0;
        if (tjCompress2(encoder, resized.data, resized.cols, 0, resized.rows, TJPF_RGB, &jpeg,
                        &jpeg_size, TJSAMP_420, 90, 0) != 0) {
          std::fprintf(stderr, "cannot encode %s\n", paths[i].c_str());
          std::abort();
        }
        tjFree(jpeg);
      });
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rep > 0) std::printf("%.0f\n", static_cast<double>(files.size()) / seconds);
  }
}
