// Transforms and stages.
//
// clang-format off
// A transform is a plain struct (see transforms/flip.hpp) with:
//   static constexpr std::string_view kName;      its registry name
//   static constexpr std::string_view kSummary;   one line: what train and eval do (--help, README)
//   static constexpr std::string_view kExample;   options that show it off, as JSON text (--help,
//                                                 and the contract test every stage must pass)
//   its options as members, each with its default as the initializer: the one place it is written
//   static T from_json(StageOptions&);            options → struct (absent keys keep the default)
//   Json to_json() const;                         struct → options, so the registry can rebuild it
//   struct Draw { ... };                          every random decision, made up front
//   Draw draw(cv::Size, nn::Rng&) const;          training: all randomness happens here
//   Draw eval(cv::Size) const;                    evaluation: no Rng parameter, so it cannot be
//                                                 random
//   void apply(const Draw&, cv::Mat& rgb) const;  pure: the same Draw and image give the same
//                                                 output
//   cv::Size output_size(cv::Size) const;         optional, for transforms that change the size
//                                                 (crops): the same in train and eval mode
//   cv::Rect window(const Draw&, cv::Size) const; optional, with resize_window, for crops that
//   cv::Mat resize_window(const cv::Mat&,         read one window of their input: apply() is then
//                         const cv::Rect2d&) const;  a resize of image(window(d, size)), and the
//                                                 reader can decode only that window of a JPEG
// ("plan, then apply", as albumentations splits get_params from apply.)
// Adding one: the unit (header + source), a test file, and one line in transforms/registry.cpp.
// clang-format on
//
// A Stage is what the flow graph runs: a type-erased transform. TransformStage<T> draws from
// Rng{seed, epoch, sample index, stage position} in training mode and uses eval() otherwise.
// THREAD SAFETY: run() is const and keeps no state; TBB calls one Stage from many threads at once.
#pragma once

#include <concepts>
#include <opencv2/core.hpp>
#include <optional>
#include <string_view>

#include "nn/json.hpp"
#include "nn/layer.hpp"
#include "nn/random.hpp"
#include "pipeline/channel_table.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/view_hint.hpp"

namespace kiln::pipeline {

template <class T>
concept Transform = requires(const T t, cv::Size size, nn::Rng& rng, const typename T::Draw& d,
                             cv::Mat& image, StageOptions& options) {
  { T::kName } -> std::convertible_to<std::string_view>;
  { T::kSummary } -> std::convertible_to<std::string_view>;
  { T::kExample } -> std::convertible_to<std::string_view>;
  { T::from_json(options) } -> std::same_as<T>;
  { t.to_json() } -> std::same_as<Json>;
  { t.draw(size, rng) } -> std::same_as<typename T::Draw>;
  { t.eval(size) } -> std::same_as<typename T::Draw>;
  t.apply(d, image);
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
  // Window crops only (first in a stage list): the window of a `source`-sized input that run()
  // would read with this key, so the graph can decode just that window. Then finish_window()
  // turns the window's pixels (at any scale) into the stage's output. nullopt for other stages.
  virtual std::optional<cv::Rect> source_window(cv::Size /*source*/, nn::Mode /*mode*/,
                                                const nn::SeedKey& /*key*/) const {
    return std::nullopt;
  }
  virtual void finish_window(cv::Mat& /*pixels*/, const cv::Rect2d& /*area*/) const {}
  // What this stage tells multi-crop views of a model trained with it; nothing by default.
  virtual ViewHint view_hint() const { return {}; }
  // Table stages only (TableTransform): run() on a `size` image of `channels` channels as a
  // per-channel table, drawn with the same key, so the graph can fold trailing table stages into
  // the pack step. Other stages are not tables.
  virtual bool is_table() const { return false; }
  virtual ChannelTable table(cv::Size /*size*/, int channels, nn::Mode /*mode*/,
                             const nn::SeedKey& /*key*/) const {
    return ChannelTable::identity(channels);
  }
};

template <class T>
concept SizeChanging = requires(const T t, cv::Size size) {
  { t.output_size(size) } -> std::same_as<cv::Size>;
};

// A crop that reads one window of its input and resizes it: the window's pixels may come from a
// window decode, at full or reduced (DCT) scale; resize_window takes them at whatever size.
template <class T>
concept WindowCrop = SizeChanging<T> &&
    requires(const T t, const typename T::Draw& d, cv::Size size, const cv::Mat& pixels) {
  { t.window(d, size) } -> std::same_as<cv::Rect>;
  { t.resize_window(pixels, cv::Rect2d()) } -> std::same_as<cv::Mat>;
};

// A colour transform whose whole effect is a per-channel table (pipeline/channel_table.hpp).
template <class T>
concept TableTransform = requires(const T t, const typename T::Draw& d) {
  { t.table(d, 3) } -> std::same_as<ChannelTable>;
};

template <class T>
concept HintsViews = requires(const T t) {
  { t.view_hint() } -> std::same_as<ViewHint>;
};

template <Transform T>
class TransformStage final : public Stage {
 public:
  explicit TransformStage(T transform) : transform_(std::move(transform)) {}
  std::string_view name() const override { return T::kName; }
  Json config() const override { return transform_.to_json(); }
  void run(cv::Mat& image, nn::Mode mode, const nn::SeedKey& key) const override {
    transform_.apply(draw_for(image.size(), mode, key), image);
  }
  cv::Size output_size(cv::Size input) const override {
    if constexpr (SizeChanging<T>) {
      return transform_.output_size(input);
    } else {
      return input;
    }
  }
  bool changes_size() const override { return SizeChanging<T>; }
  std::optional<cv::Rect> source_window(cv::Size source, nn::Mode mode,
                                        const nn::SeedKey& key) const override {
    if constexpr (WindowCrop<T>) {
      return transform_.window(draw_for(source, mode, key), source);
    } else {
      return std::nullopt;
    }
  }
  void finish_window(cv::Mat& pixels, const cv::Rect2d& area) const override {
    if constexpr (WindowCrop<T>) pixels = transform_.resize_window(pixels, area);
  }
  ViewHint view_hint() const override {
    if constexpr (HintsViews<T>) {
      return transform_.view_hint();
    } else {
      return {};
    }
  }
  bool is_table() const override { return TableTransform<T>; }
  ChannelTable table(cv::Size size, int channels, nn::Mode mode,
                     const nn::SeedKey& key) const override {
    if constexpr (TableTransform<T>) {
      return transform_.table(draw_for(size, mode, key), channels);
    } else {
      return ChannelTable::identity(channels);
    }
  }
  const T& transform() const { return transform_; }

 private:
  // The one place a stage's decision is made: run(), source_window() and table() must agree,
  // since the graph may use the window or the table instead of run().
  typename T::Draw draw_for(cv::Size size, nn::Mode mode, const nn::SeedKey& key) const {
    if (mode != nn::Mode::kTrain) return transform_.eval(size);
    nn::Rng rng(key);
    return transform_.draw(size, rng);
  }

  T transform_;
};

}  // namespace kiln::pipeline
