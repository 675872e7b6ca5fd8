#include "pipeline/training/augment_preview.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "io/dataset_reader.hpp"
#include "nn/error.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

namespace {

// The image enlarged by a whole factor to fit `cell`, centred on a grey cell, in BGR.
cv::Mat to_cell(const cv::Mat& rgb, int cell) {
  cv::Mat bgr;
  if (rgb.channels() == 1) {
    cv::cvtColor(rgb, bgr, cv::COLOR_GRAY2BGR);
  } else {
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  }
  const int factor = std::max(1, cell / std::max(rgb.cols, rgb.rows));
  cv::Mat big;
  cv::resize(bgr, big, {}, factor, factor, cv::INTER_NEAREST);
  if (big.cols > cell || big.rows > cell) {
    const double shrink = static_cast<double>(cell) / std::max(big.cols, big.rows);
    cv::resize(big, big, {}, shrink, shrink, cv::INTER_AREA);
  }
  cv::Mat out(cell, cell, CV_8UC3, cv::Scalar::all(128));
  big.copyTo(out(cv::Rect((cell - big.cols) / 2, (cell - big.rows) / 2, big.cols, big.rows)));
  return out;
}

}  // namespace

cv::Mat render_augment_preview(const PreviewRequest& request) {
  if (request.images < 1 || request.views < 1 || request.cell < 16) {
    throw Error("augment-preview: needs at least one image and one view, and cells of 16 px");
  }
  const io::DatasetReader data(request.data_path);
  const auto stages =
      make_stages(with_fitted_pca(request.stages, data.statistics().covariance, request.data_path));
  const int rows = static_cast<int>(std::min<std::int64_t>(request.images, data.size()));
  const int cell = request.cell, gap = 4, label = 22, columns = request.views + 1;
  cv::Mat canvas(label + rows * (cell + gap), columns * (cell + gap), CV_8UC3,
                 cv::Scalar::all(255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  for (int c = 0; c < columns; ++c) {
    cv::putText(canvas, c == 0 ? "stored" : "epoch " + std::to_string(c),
                {c * (cell + gap) + 4, 16}, font, 0.45, cv::Scalar::all(0), 1, cv::LINE_AA);
  }
  for (int r = 0; r < rows; ++r) {
    const std::int64_t index = data.size() * r / rows;  // evenly spaced through the file
    cv::Mat stored(static_cast<int>(data.height()), static_cast<int>(data.width()),
                   CV_8UC(static_cast<int>(data.channels())));
    data.read_image(index, {stored.data, static_cast<std::size_t>(data.image_bytes())});
    for (int c = 0; c < columns; ++c) {
      cv::Mat image = stored.clone();
      if (c > 0) {
        std::uint32_t slot = 1;  // as the flow graph numbers the stages
        for (const auto& stage : stages) {
          stage->run(image, nn::Mode::kTrain,
                     {request.seed, static_cast<std::uint64_t>(c - 1),
                      static_cast<std::uint64_t>(index), slot++});
        }
      }
      const cv::Rect where(c * (cell + gap), label + r * (cell + gap), cell, cell);
      to_cell(image, cell).copyTo(canvas(where));
    }
    const auto& names = data.class_names();
    const auto label_id = static_cast<std::size_t>(data.labels()[static_cast<std::size_t>(index)]);
    const std::string caption =
        "#" + std::to_string(index) + " " + (label_id < names.size() ? names[label_id] : "");
    cv::putText(canvas, caption, {4, label + r * (cell + gap) + cell - 6}, font, 0.4,
                cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
  }
  return canvas;
}

}  // namespace kiln::pipeline
