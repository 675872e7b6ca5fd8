// Transforms and stages.
//
// A transform is a plain struct (see transforms/flip.hpp) with:
//   static constexpr std::string_view kName;    its registry name
//   struct Draw { ... };                         every random decision, made up front
//   Draw draw(cv::Size, nn::Rng&) const;         training: all randomness happens here
//   Draw eval(cv::Size) const;                   evaluation: no Rng parameter, so it cannot be
//   random void apply(const Draw&, cv::Mat& rgb) const; pure: same Draw and image ⇒ same output
//   Json config() const;                         options, so the registry can rebuild it
//   cv::Size output_size(cv::Size) const;        optional: for transforms that change the size
//                                                (crops); the same in train and eval mode
// ("plan, then apply", as albumentations splits get_params from apply.)
//
// A Stage is what the flow graph runs: a type-erased transform. TransformStage<T> draws from
// Rng{seed, epoch, sample index, stage position} in training mode and uses eval() otherwise.
// THREAD SAFETY: run() is const and keeps no state; TBB calls one Stage from many threads at once.
#pragma once

#include <concepts>
#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/layer.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

template <class T>
concept Transform = requires(const T t, cv::Size size, nn::Rng& rng, const typename T::Draw& d,
                             cv::Mat& image) {
  { T::kName } -> std::convertible_to<std::string_view>;
  { t.draw(size, rng) } -> std::same_as<typename T::Draw>;
  { t.eval(size) } -> std::same_as<typename T::Draw>;
  t.apply(d, image);
  { t.config() } -> std::same_as<Json>;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  virtual Json config() const = 0;
  // key.slot is the stage's position in its list (1-based), set by the graph.
  virtual void run(cv::Mat& image, nn::Mode mode, const nn::SeedKey& key) const = 0;
  // The size of the images this stage outputs for inputs of `input` size (train and eval alike):
  // batches need one size, so the loader folds this over the stage list.
  virtual cv::Size output_size(cv::Size input) const { return input; }
  // True for crops and resizes: multi-crop evaluation replaces these with its views.
  virtual bool changes_size() const { return false; }
};

template <class T>
concept SizeChanging = requires(const T t, cv::Size size) {
  { t.output_size(size) } -> std::same_as<cv::Size>;
};

template <Transform T>
class TransformStage final : public Stage {
 public:
  explicit TransformStage(T transform) : transform_(std::move(transform)) {}
  std::string_view name() const override { return T::kName; }
  Json config() const override { return transform_.config(); }
  void run(cv::Mat& image, nn::Mode mode, const nn::SeedKey& key) const override {
    if (mode == nn::Mode::kTrain) {
      nn::Rng rng(key);
      transform_.apply(transform_.draw(image.size(), rng), image);
    } else {
      transform_.apply(transform_.eval(image.size()), image);
    }
  }
  cv::Size output_size(cv::Size input) const override {
    if constexpr (SizeChanging<T>) {
      return transform_.output_size(input);
    } else {
      return input;
    }
  }
  bool changes_size() const override { return SizeChanging<T>; }
  const T& transform() const { return transform_; }

 private:
  T transform_;
};

}  // namespace kiln::pipeline
