// GIF through Debian's giflib: the first frame, on the GIF's logical screen. OpenCV 4.6 reads no
// GIF, and a folder of photos often holds a few (placeholders, icons).
//   - The screen starts as the background colour of the global palette (black without one), and
//     the first frame's pixels are painted at its offset.
//   - A transparent index keeps its palette colour, as PIL's convert("RGB") gives it (and so
//     torchvision's ImageFolder): kiln drops alpha the same way for PNG.
//   - Interlaced frames come out in row order. Later frames of an animation are not read.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>

namespace kiln::io {

struct GifFrame {
  cv::Mat rgb;         // (H, W, 3) uint8 RGB, continuous; empty on failure
  std::string reason;  // on failure: "truncated", "corrupt" or "too many pixels"
  std::string detail;  // what exactly, for the user
};

// The first frame of the GIF in `bytes`. A screen of more than `max_pixels` pixels is refused
// before any pixel is decoded.
GifFrame decode_gif(std::span<const std::uint8_t> bytes, std::int64_t max_pixels);

}  // namespace kiln::io
