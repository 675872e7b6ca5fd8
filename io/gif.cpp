#include "io/gif.hpp"

#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace kiln::io {
namespace {

// giflib reads through a callback; this one serves it the bytes in memory.
struct Reader {
  std::span<const std::uint8_t> bytes;
  std::size_t at = 0;
};

int read_bytes(GifFileType* gif, GifByteType* into, int wanted) {
  auto* reader = static_cast<Reader*>(gif->UserData);
  const std::size_t n =
      std::min(static_cast<std::size_t>(std::max(wanted, 0)), reader->bytes.size() - reader->at);
  if (n > 0) std::memcpy(into, reader->bytes.data() + reader->at, n);
  reader->at += n;
  return static_cast<int>(n);
}

struct CloseGif {
  void operator()(GifFileType* gif) const { DGifCloseFile(gif, nullptr); }
};
using Gif = std::unique_ptr<GifFileType, CloseGif>;

// Running out of bytes is a truncated file; anything else giflib refuses, a corrupt one.
GifFrame failure(int error) {
  const bool short_read = error == D_GIF_ERR_READ_FAILED || error == D_GIF_ERR_EOF_TOO_SOON;
  const char* text = GifErrorString(error);
  return {{}, short_read ? "truncated" : "corrupt", std::string("GIF: ") + (text ? text : "?")};
}

// Skips an extension and its data blocks (comments, animation control, transparency).
bool skip_extension(GifFileType* gif) {
  int code = 0;
  GifByteType* block = nullptr;
  if (DGifGetExtension(gif, &code, &block) != GIF_OK) return false;
  while (block != nullptr) {
    if (DGifGetExtensionNext(gif, &block) != GIF_OK) return false;
  }
  return true;
}

// The frame's palette indices in row order, de-interlacing as the GIF specification lays out
// its four passes.
bool read_indices(GifFileType* gif, std::vector<GifPixelType>& indices) {
  const GifImageDesc& d = gif->Image;
  indices.resize(static_cast<std::size_t>(d.Width) * static_cast<std::size_t>(d.Height));
  if (!d.Interlace) return DGifGetLine(gif, indices.data(), d.Width * d.Height) == GIF_OK;
  constexpr int kFirstRow[] = {0, 4, 2, 1}, kRowStep[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int row = kFirstRow[pass]; row < d.Height; row += kRowStep[pass]) {
      GifPixelType* line = indices.data() + static_cast<std::size_t>(row) * d.Width;
      if (DGifGetLine(gif, line, d.Width) != GIF_OK) return false;
    }
  }
  return true;
}

}  // namespace

GifFrame decode_gif(std::span<const std::uint8_t> bytes, std::int64_t max_pixels) {
  Reader reader{bytes};
  int error = 0;
  const Gif gif(DGifOpen(&reader, read_bytes, &error));
  if (!gif) return failure(error);
  const std::int64_t width = gif->SWidth, height = gif->SHeight;
  if (width <= 0 || height <= 0) return {{}, "corrupt", "GIF: the screen has no size"};
  if (width * height > max_pixels) {
    return {{},
            "too many pixels",
            std::to_string(width) + "x" + std::to_string(height) + " is more than " +
                std::to_string(max_pixels) + " pixels"};
  }
  const ColorMapObject* global = gif->SColorMap;
  cv::Vec3b background(0, 0, 0);
  if (global != nullptr && gif->SBackGroundColor < global->ColorCount) {
    const GifColorType& c = global->Colors[gif->SBackGroundColor];
    background = {c.Red, c.Green, c.Blue};
  }
  for (GifRecordType record = UNDEFINED_RECORD_TYPE; record != TERMINATE_RECORD_TYPE;) {
    if (DGifGetRecordType(gif.get(), &record) != GIF_OK) return failure(gif->Error);
    if (record == EXTENSION_RECORD_TYPE && !skip_extension(gif.get())) {
      return failure(gif->Error);
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif.get()) != GIF_OK) return failure(gif->Error);
    const GifImageDesc& d = gif->Image;
    const ColorMapObject* palette = d.ColorMap != nullptr ? d.ColorMap : global;
    if (palette == nullptr) return {{}, "corrupt", "GIF: the first frame has no palette"};
    if (d.Left < 0 || d.Top < 0 || d.Width <= 0 || d.Height <= 0 || d.Left + d.Width > width ||
        d.Top + d.Height > height) {
      return {{}, "corrupt", "GIF: the first frame lies outside the screen"};
    }
    std::vector<GifPixelType> indices;
    if (!read_indices(gif.get(), indices)) return failure(gif->Error);
    cv::Mat rgb(static_cast<int>(height), static_cast<int>(width), CV_8UC3,
                cv::Scalar(background[0], background[1], background[2]));
    for (int y = 0; y < d.Height; ++y) {
      auto* out = rgb.ptr<cv::Vec3b>(d.Top + y) + d.Left;
      for (int x = 0; x < d.Width; ++x) {
        const int index = indices[static_cast<std::size_t>(y) * d.Width + x];
        if (index >= palette->ColorCount) {
          return {{},
                  "corrupt",
                  "GIF: a pixel names colour " + std::to_string(index) + " of " +
                      std::to_string(palette->ColorCount)};
        }
        const GifColorType& c = palette->Colors[index];
        out[x] = {c.Red, c.Green, c.Blue};
      }
    }
    return {rgb, {}, {}};
  }
  return {{}, "corrupt", "GIF: the file holds no frame"};
}

}  // namespace kiln::io
