// expect_transform_contract: what every transform promises, checked generically.
//   - the same key gives the same bytes; different sample indices give different draws (random
//   ones)
//   - eval() is fixed, and applying one Draw twice gives the same output (apply is pure)
//   - type and channel count are kept; the size is kept or is what output_size() announced
//   - the config round-trips through the stage registry
#pragma once

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <set>
#include <vector>

#include "pipeline/transform.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::testing {

inline cv::Mat textured(int w, int h, int channels) {
  cv::Mat m(h, w, CV_8UC(channels));
  for (int i = 0; i < w * h * channels; ++i)
    m.data[i] = static_cast<std::uint8_t>((i * 37 + i / 7) % 256);
  return m;
}

template <pipeline::Transform T>
void expect_transform_contract(const T& t, bool random = true,
                               std::vector<int> channel_counts = {1, 3}) {
  for (const int channels : channel_counts) {
    const cv::Mat original = textured(13, 9, channels);
    std::set<std::string> distinct_draws;
    for (std::uint64_t index = 0; index < 64; ++index) {
      nn::Rng a({5, 2, index, 1}), b({5, 2, index, 1});
      const typename T::Draw da = t.draw(original.size(), a), db = t.draw(original.size(), b);
      ASSERT_TRUE(da == db) << T::kName << ": same key, different draw";
      cv::Mat x = original.clone(), y = original.clone();
      t.apply(da, x);
      t.apply(da, y);
      ASSERT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0) << T::kName << ": apply is not pure";
      ASSERT_EQ(x.type(), original.type()) << T::kName;
      cv::Size expected = original.size();
      if constexpr (pipeline::SizeChanging<T>) expected = t.output_size(original.size());
      ASSERT_EQ(x.size(), expected) << T::kName;
      distinct_draws.insert(
          std::string(reinterpret_cast<const char*>(x.data), x.total() * x.elemSize()));
    }
    if (random) {
      EXPECT_GT(distinct_draws.size(), 1u) << T::kName << ": every index drew the same";
    }
    cv::Mat e1 = original.clone(), e2 = original.clone();
    t.apply(t.eval(original.size()), e1);
    t.apply(t.eval(original.size()), e2);
    EXPECT_EQ(cv::norm(e1, e2, cv::NORM_INF), 0.0) << T::kName << ": eval is not fixed";
  }
  Json entry = t.config();
  entry["type"] = std::string(T::kName);
  EXPECT_EQ(pipeline::stages_config(pipeline::make_stages(Json::array({entry}))),
            Json::array({entry}))
      << T::kName;
}

}  // namespace kiln::testing
