// expect_stage_contract: what every registered stage promises, checked through the registry, so a
// newly registered transform is tested without anyone editing a list.
// clang-format off
//   - the same key gives the same bytes; different sample indices give different outputs
//   - eval is fixed: two eval runs give the same bytes
//   - type and channel count are kept; the size is kept or is what output_size() announced
//   - a window crop's window decode (source_window + finish_window) gives what run() gives
//   - a table stage's table gives what run() gives
//   - the config round-trips through the registry
// clang-format on
// Stages that need colour (RGB only) may refuse one-channel images, with a kiln::Error.
#pragma once

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <set>
#include <string>

#include "nn/error.hpp"
#include "pipeline/transform.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::testing {

inline cv::Mat textured(int w, int h, int channels) {
  cv::Mat m(h, w, CV_8UC(channels));
  for (int i = 0; i < w * h * channels; ++i)
    m.data[i] = static_cast<std::uint8_t>((i * 37 + i / 7) % 256);
  return m;
}

inline std::string bytes_of(const cv::Mat& m) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  return {reinterpret_cast<const char*>(c.data), c.total() * c.elemSize()};
}

// The output of `stage` on `image` in `mode`, drawn with the key of (run 5, epoch 2, index).
inline cv::Mat run_stage(const pipeline::Stage& stage, const cv::Mat& image, nn::Mode mode,
                         std::uint64_t index) {
  cv::Mat out = image.clone();
  stage.run(out, mode, {5, 2, index, 1});
  return out;
}

inline void expect_window_matches_run(const pipeline::Stage& stage, const cv::Mat& image,
                                      nn::Mode mode, std::uint64_t index) {
  const nn::SeedKey key{5, 2, index, 1};
  const auto window = stage.source_window(image.size(), mode, key);
  ASSERT_TRUE(window.has_value()) << stage.name();
  cv::Mat pixels = image(*window).clone();
  stage.finish_window(pixels, cv::Rect2d(0, 0, window->width, window->height));
  EXPECT_EQ(bytes_of(pixels), bytes_of(run_stage(stage, image, mode, index)))
      << stage.name() << ": the window path differs from run()";
}

inline void expect_table_matches_run(const pipeline::Stage& stage, const cv::Mat& image,
                                     nn::Mode mode, std::uint64_t index) {
  const pipeline::ChannelTable table =
      stage.table(image.size(), image.channels(), mode, {5, 2, index, 1});
  cv::Mat mapped = image.clone();
  table.apply(mapped);
  EXPECT_EQ(bytes_of(mapped), bytes_of(run_stage(stage, image, mode, index)))
      << stage.name() << ": the table differs from run()";
}

inline void expect_stage_contract(const std::string& name, const Json& options) {
  const auto stage = pipeline::make_stage(name, options);
  for (const int channels : {1, 3}) {
    const cv::Mat original = textured(40, 30, channels);
    try {
      run_stage(*stage, original, nn::Mode::kTrain, 0);
    } catch (const Error&) {
      EXPECT_EQ(channels, 1) << name << " refuses RGB images";
      continue;
    }
    const cv::Size expected = stage->output_size(original.size());
    std::set<std::string> distinct;
    for (std::uint64_t index = 0; index < 32; ++index) {
      const cv::Mat a = run_stage(*stage, original, nn::Mode::kTrain, index);
      const cv::Mat b = run_stage(*stage, original, nn::Mode::kTrain, index);
      ASSERT_EQ(bytes_of(a), bytes_of(b)) << name << ": same key, different output";
      ASSERT_EQ(a.type(), original.type()) << name;
      ASSERT_EQ(a.size(), expected) << name << ": not the announced size";
      distinct.insert(bytes_of(a));
      if (index < 4 && stage->source_window(original.size(), nn::Mode::kTrain, {5, 2, index, 1})) {
        expect_window_matches_run(*stage, original, nn::Mode::kTrain, index);
      }
      if (index < 4 && stage->is_table()) {
        expect_table_matches_run(*stage, original, nn::Mode::kTrain, index);
      }
    }
    EXPECT_GT(distinct.size(), 1u) << name << ": every index drew the same";
    const cv::Mat e1 = run_stage(*stage, original, nn::Mode::kEval, 1);
    const cv::Mat e2 = run_stage(*stage, original, nn::Mode::kEval, 2);
    EXPECT_EQ(bytes_of(e1), bytes_of(e2)) << name << ": eval is not fixed";
    EXPECT_EQ(e1.size(), expected) << name << ": eval is not the announced size";
  }
  Json entry = stage->config();
  entry["type"] = name;
  EXPECT_EQ(pipeline::stages_config(pipeline::make_stages(Json::array({entry}))),
            Json::array({entry}))
      << name;
}

}  // namespace kiln::testing
