#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <set>

#include "io/dataset_reader.hpp"
#include "io/dataset_writer.hpp"
#include "nn/error.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/transforms/registry.hpp"
#include "pipeline/views.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

struct Epoch {
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<std::int32_t>> labels;
  std::vector<std::vector<std::uint64_t>> indices;
  std::int64_t peak = 0;
};

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("data.h5");
    testing::write_indexed_dataset(path_, 103, 4, 5, 3, 4);
    reader_ = std::make_shared<const io::DatasetReader>(path_);
  }

  Normalization identity() const { return {"RGB", {0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}}; }

  Epoch run(LoaderOptions options, std::uint64_t epoch, const Json& stages = Json::array(),
            std::int64_t first_batch = 0) {
    Loader loader(reader_, identity(), make_stages(stages), options);
    loader.start_epoch_at(epoch, first_batch);
    Epoch out;
    nn::Batch batch;
    while (loader.next(batch)) {
      out.inputs.emplace_back(batch.inputs.span().begin(), batch.inputs.span().end());
      out.labels.push_back(batch.labels);
      out.indices.push_back(batch.indices);
    }
    out.peak = loader.peak_in_flight();
    return out;
  }

  testing::TempDir dir_;
  std::string path_;
  std::shared_ptr<const io::DatasetReader> reader_;
};

TEST_F(LoaderTest, EveryEpochVisitsEverySampleOnceWithItsOwnPixels) {
  LoaderOptions options;
  options.batch_size = 10;
  options.seed = 3;
  const Epoch e = run(options, 0);
  ASSERT_EQ(e.indices.size(), 11u);  // 10 full batches and one of 3
  EXPECT_EQ(e.indices.back().size(), 3u);
  std::set<std::uint64_t> seen;
  for (std::size_t b = 0; b < e.indices.size(); ++b) {
    for (std::size_t r = 0; r < e.indices[b].size(); ++r) {
      const std::uint64_t index = e.indices[b][r];
      EXPECT_TRUE(seen.insert(index).second) << "index " << index << " seen twice";
      EXPECT_EQ(e.labels[b][r], static_cast<std::int32_t>(index % 4));
      // Packed as (C, H, W): element (c, y, x) comes from HWC offset (y*W + x)*C + c.
      const float* sample = e.inputs[b].data() + r * 60;
      for (int c = 0; c < 3; ++c) {
        for (int y = 0; y < 4; ++y) {
          for (int x = 0; x < 5; ++x) {
            ASSERT_EQ(sample[(c * 4 + y) * 5 + x],
                      testing::pixel_value(static_cast<std::int64_t>(index), (y * 5 + x) * 3 + c));
          }
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), 103u);
}

TEST_F(LoaderTest, SameSeedSameBatchesWhateverTheThreadCount) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 11;
  const Json stages = Json::array({{{"type", "horizontal_flip"}, {"p", 0.5}}});
  Epoch one, two, four;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = run(options, 1, stages);
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = run(options, 1, stages);
  }
  options.threads = 4;
  four = run(options, 1, stages);
  EXPECT_EQ(one.inputs, two.inputs);
  EXPECT_EQ(one.indices, two.indices);
  EXPECT_EQ(one.inputs, four.inputs);
  // A different epoch gives a different order and different flips.
  EXPECT_NE(run(options, 2, stages).indices, one.indices);
}

// Mixing in train mode: every batch carries its soft targets and mixed pixels, the same for any
// thread count and from a mid-epoch start; eval mode never mixes.
TEST_F(LoaderTest, MixingGivesEveryTrainingBatchItsTargetsAlikeOnAnyThreadCount) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 2;
  options.mixing = BatchMixing::from_json({{"type", "mixup"}, {"alpha", 0.4}});
  auto mixed_epoch = [&](std::int64_t first_batch) {
    Loader loader(reader_, identity(), {}, options);
    loader.start_epoch_at(1, first_batch);
    std::vector<std::vector<float>> inputs, targets;
    nn::Batch batch;
    while (loader.next(batch)) {
      EXPECT_EQ(batch.targets.shape(), (nn::Shape{batch.size(), 4, 1, 1}));
      inputs.emplace_back(batch.inputs.span().begin(), batch.inputs.span().end());
      targets.emplace_back(batch.targets.span().begin(), batch.targets.span().end());
    }
    return std::pair{inputs, targets};
  };
  const auto one = [&] {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    return mixed_epoch(0);
  }();
  const auto two = mixed_epoch(0);
  EXPECT_EQ(one, two);
  const auto rest = mixed_epoch(5);
  EXPECT_TRUE(std::equal(rest.first.begin(), rest.first.end(), one.first.begin() + 5));
  EXPECT_TRUE(std::equal(rest.second.begin(), rest.second.end(), one.second.begin() + 5));
  LoaderOptions plain = options;
  plain.mixing.reset();
  EXPECT_NE(run(plain, 1).inputs, one.first);  // the mixing did happen
  plain.mode = nn::Mode::kEval;
  options.mode = nn::Mode::kEval;
  Loader eval(reader_, identity(), {}, options);
  eval.start_epoch(0);
  nn::Batch batch;
  ASSERT_TRUE(eval.next(batch));
  EXPECT_EQ(batch.targets.size(), 0);
  EXPECT_EQ(std::vector<float>(batch.inputs.span().begin(), batch.inputs.span().end()),
            run(plain, 0).inputs.front());
}

// A resume from a mid-epoch checkpoint: starting at batch k gives batches k, k+1, ... of the
// whole epoch, pixels and augmentation included, with or without drop_last.
TEST_F(LoaderTest, StartingAtABatchGivesTheRestOfTheEpoch) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 5;
  const Json stages = Json::array(
      {{{"type", "horizontal_flip"}, {"p", 0.5}}, {{"type", "affine"}, {"rotation", 20}}});
  for (const bool drop_last : {false, true}) {
    options.drop_last = drop_last;
    const Epoch whole = run(options, 2, stages);
    ASSERT_EQ(whole.indices.size(), drop_last ? 12u : 13u);
    for (const std::int64_t k : {1, 5, 12, 13, 20}) {
      const Epoch rest = run(options, 2, stages, k);
      const std::size_t skipped = std::min<std::size_t>(k, whole.indices.size());
      EXPECT_EQ(rest.indices.size(), whole.indices.size() - skipped) << k;
      EXPECT_TRUE(std::equal(rest.indices.begin(), rest.indices.end(),
                             whole.indices.begin() + static_cast<std::ptrdiff_t>(skipped)))
          << "from batch " << k << (drop_last ? ", drop_last" : "");
      EXPECT_TRUE(std::equal(rest.inputs.begin(), rest.inputs.end(),
                             whole.inputs.begin() + static_cast<std::ptrdiff_t>(skipped)))
          << "from batch " << k;
    }
  }
}

// The geometric and colour stages are as deterministic as the flips: draws are keyed, not shared.
TEST_F(LoaderTest, HeavyStagesAreBitIdenticalAcrossThreadCounts) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 4;
  const Json stages = Json::array(
      {{{"type", "affine"}, {"rotation", 20}, {"zoom_range", {0.9, 1.1}}, {"fill_mode", "reflect"}},
       {{"type", "lens_distortion"}, {"k1_range", {-0.3, 0.3}}},
       {{"type", "pca_lighting"},
        {"sigma", 0.5},
        {"eigenvalues", {30, 10, 5}},
        {"eigenvectors", {{0.58, 0.58, 0.58}, {0.71, 0, -0.71}, {0.41, -0.82, 0.41}}}},
       {{"type", "color_jitter"}}});
  Epoch one, two;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = run(options, 3, stages);
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = run(options, 3, stages);
  }
  EXPECT_EQ(one.inputs, two.inputs);
  EXPECT_NE(one.inputs, run(options, 0).inputs) << "the stages changed nothing";
}

// Trailing table stages (PCA lighting) are folded into the pack step: the batches must be those
// of applying the stage to the pixels first. A flip that never fires after it keeps PCA at its
// slot but stops the folding.
TEST_F(LoaderTest, FoldedTableStagesEqualAppliedOnes) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 9;
  const Json pca = {{"type", "pca_lighting"},
                    {"sigma", 2.0},
                    {"eigenvalues", {40, 10, 5}},
                    {"eigenvectors", {{0.58, 0.58, 0.58}, {0.71, 0, -0.71}, {0.41, -0.82, 0.41}}}};
  const Epoch folded = run(options, 2, Json::array({pca}));
  const Epoch applied =
      run(options, 2, Json::array({pca, {{"type", "vertical_flip"}, {"p", 0.0}}}));
  EXPECT_EQ(folded.inputs, applied.inputs);
  EXPECT_NE(folded.inputs, run(options, 2).inputs) << "the lighting changed nothing";
}

// Multi-crop: each sample becomes consecutive rows sharing its label and index; batch_size still
// counts samples, and the in-flight bound is in samples.
TEST_F(LoaderTest, ViewsExpandEachSampleIntoConsecutiveRows) {
  LoaderOptions options;
  options.batch_size = 6;
  options.prefetch_batches = 2;
  options.mode = nn::Mode::kEval;
  options.views = ViewOptions{.crops = 10, .scales = {}, .crop = {3, 3}, .padding = 0, .fill = 0};
  Loader loader(reader_, identity(), {}, options);
  EXPECT_EQ(loader.sample_shape(), (nn::Shape{1, 3, 3, 3}));
  loader.start_epoch(0);
  nn::Batch batch;
  std::int64_t images = 0;
  while (loader.next(batch)) {
    ASSERT_EQ(batch.size() % 10, 0);
    EXPECT_LE(batch.size(), 60);
    for (std::int64_t row = 0; row < batch.size(); ++row) {
      const auto first = static_cast<std::size_t>(row - row % 10);
      EXPECT_EQ(batch.indices[static_cast<std::size_t>(row)], batch.indices[first]);
      EXPECT_EQ(batch.labels[static_cast<std::size_t>(row)], batch.labels[first]);
    }
    EXPECT_EQ(batch.indices[0], static_cast<std::uint64_t>(images));  // stored order
    images += batch.size() / 10;
  }
  EXPECT_EQ(images, 103);
  EXPECT_LE(loader.peak_in_flight(), 12);
  options.mode = nn::Mode::kTrain;
  EXPECT_THROW(Loader(reader_, identity(), {}, options), Error);
}

TEST_F(LoaderTest, ASubsetVisitsExactlyItsIndices) {
  LoaderOptions options;
  options.batch_size = 4;
  options.subset = {3, 50, 7, 99, 0};
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    const Epoch e = run(options, epoch);
    std::multiset<std::uint64_t> seen;
    for (const auto& b : e.indices) seen.insert(b.begin(), b.end());
    EXPECT_EQ(seen, (std::multiset<std::uint64_t>{0, 3, 7, 50, 99}));
  }
  options.subset = {103};
  EXPECT_THROW(run(options, 0), Error);
}

TEST_F(LoaderTest, SamplesInFlightStayWithinTheLimit) {
  LoaderOptions options;
  options.batch_size = 4;
  options.prefetch_batches = 2;
  const Epoch e = run(options, 0);
  EXPECT_GT(e.peak, 0);
  EXPECT_LE(e.peak, 8);
}

TEST_F(LoaderTest, EvalModeKeepsTheStoredOrderAndDropLastDrops) {
  LoaderOptions options;
  options.batch_size = 10;
  options.mode = nn::Mode::kEval;
  options.drop_last = true;
  const Epoch e = run(options, 5, Json::array({{{"type", "horizontal_flip"}, {"p", 1.0}}}));
  ASSERT_EQ(e.indices.size(), 10u);
  for (std::size_t b = 0; b < e.indices.size(); ++b) {
    for (std::size_t r = 0; r < 10; ++r) EXPECT_EQ(e.indices[b][r], b * 10 + r);
  }
  // p = 1 but eval mode: the first pixel of image 0 is unflipped.
  EXPECT_EQ(e.inputs[0][0], testing::pixel_value(0, 0));
}

TEST_F(LoaderTest, AbandoningAnEpochHalfWayIsSafe) {
  LoaderOptions options;
  options.batch_size = 5;
  Loader loader(reader_, identity(), {}, options);
  nn::Batch batch;
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next(batch));
  loader.start_epoch(1);  // the rest of epoch 0 is cancelled
  int batches = 0;
  while (loader.next(batch)) ++batches;
  EXPECT_EQ(batches, 21);
}

TEST_F(LoaderTest, SizeChangingStagesSetTheBatchShape) {
  LoaderOptions options;
  options.batch_size = 16;
  const Json stages = Json::array({{{"type", "scale_crop"}, {"size", 3}, {"scale_range", {4, 6}}}});
  Loader loader(reader_, identity(), make_stages(stages), options);
  EXPECT_EQ(loader.sample_shape(), (nn::Shape{1, 3, 3, 3}));
  loader.start_epoch(0);
  nn::Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch.inputs.shape(), (nn::Shape{16, 3, 3, 3}));
}

TEST_F(LoaderTest, LimitUsesTheFirstSamplesOnly) {
  LoaderOptions options;
  options.batch_size = 4;
  options.limit = 6;
  const Epoch e = run(options, 0);
  std::set<std::uint64_t> seen;
  for (const auto& b : e.indices) seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen, (std::set<std::uint64_t>{0, 1, 2, 3, 4, 5}));
}

// A stage that fails on one sample, as a corrupt image would.
class FailOnIndex final : public Stage {
 public:
  explicit FailOnIndex(std::uint64_t index) : index_(index) {}
  std::string_view name() const override { return "fail_on_index"; }
  Json config() const override { return Json::object(); }
  void run(cv::Mat&, nn::Mode, const nn::SeedKey& key) const override {
    if (key.index == index_) throw Error("cannot augment this one");
  }

 private:
  std::uint64_t index_;
};

TEST_F(LoaderTest, AFailingSampleStopsTheEpochWithItsIndexAndReason) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FailOnIndex>(57));
  LoaderOptions options;
  options.batch_size = 8;
  options.mode = nn::Mode::kEval;
  Loader loader(reader_, identity(), std::move(stages), options);
  loader.start_epoch(0);
  nn::Batch batch;
  int batches = 0;
  try {
    while (loader.next(batch)) ++batches;
    FAIL() << "expected the failure of sample 57";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sample 57"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot augment this one"), std::string::npos) << message;
    EXPECT_NE(message.find(path_), std::string::npos) << message;
  }
  EXPECT_EQ(batches, 7);  // the batches before sample 57 (eval order) were delivered
  loader.start_epoch(1);  // and the loader is usable again
}

TEST_F(LoaderTest, RejectsANormalizationForOtherChannels) {
  EXPECT_THROW(Loader(reader_, {"L", {0.f}, {1.f}}, {}, {}), Error);
  LoaderOptions zero;
  zero.batch_size = 0;
  EXPECT_THROW(Loader(reader_, identity(), {}, zero), Error);
}

// Images of many sizes stream through the same graph: a crop stage gives the batch its size.
TEST(RaggedLoader, ACropStageMakesUniformBatchesAndIsRequired) {
  testing::TempDir dir;
  io::DatasetSpec spec;
  spec.channels = 3;
  spec.encoding = "raw";
  spec.class_names = {"a", "b"};
  {
    io::DatasetWriter writer(dir.file("r.h5"), spec);
    for (int i = 0; i < 21; ++i) {
      const int h = 10 + i % 4, w = 12 + (i * 3) % 7;
      std::vector<std::uint8_t> p(static_cast<std::size_t>(h * w * 3),
                                  static_cast<std::uint8_t>(i));
      writer.append_ragged(p, h, w, p, i % 2);
    }
    writer.commit();
  }
  auto reader = std::make_shared<const io::DatasetReader>(dir.file("r.h5"));
  const Normalization identity{"RGB", {0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}};
  LoaderOptions options;
  options.batch_size = 4;
  Loader loader(
      reader, identity,
      make_stages(Json::array(
          {{{"type", "scale_crop"}, {"size", 8}, {"scale_range", {8, 12}}, {"eval_scale", 10}}})),
      options);
  EXPECT_EQ(loader.sample_shape(), (nn::Shape{1, 3, 8, 8}));
  loader.start_epoch(0);
  nn::Batch batch;
  std::int64_t seen = 0;
  while (loader.next(batch)) {
    EXPECT_EQ(batch.inputs.shape().per_sample(), 3 * 8 * 8);
    for (std::int64_t r = 0; r < batch.size(); ++r) {  // flat images stay flat through the crop
      EXPECT_EQ(batch.inputs.data()[r * 192],
                static_cast<float>(batch.indices[static_cast<std::size_t>(r)]));
    }
    seen += batch.size();
  }
  EXPECT_EQ(seen, 21);
  try {
    Loader no_crop(reader, identity, make_stages(Json::array({{{"type", "horizontal_flip"}}})),
                   options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add a crop stage"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::pipeline

namespace kiln::pipeline {
namespace {

// A regression dataset whose image i has the values (i, −2i): every batch row must carry the
// values of the image it holds, in train (shuffled) and eval (multi-crop views) mode alike.
TEST(TargetLoader, EveryRowCarriesItsImagesTargetsAndMixupMixesThem) {
  testing::TempDir dir;
  const std::string path = dir.file("values.h5");
  io::DatasetSpec spec;
  spec.height = spec.width = 6;
  spec.channels = 1;
  spec.class_names = {"a", "b"};
  spec.task = nn::Task::kRegression;
  {
    io::DatasetWriter writer(path, spec);
    std::vector<std::uint8_t> images(30 * 36);
    std::vector<float> values;
    for (int i = 0; i < 30; ++i) {
      std::fill_n(images.begin() + i * 36, 36, static_cast<std::uint8_t>(i));
      values.insert(values.end(), {static_cast<float>(i), -2.f * static_cast<float>(i)});
    }
    writer.append(images, std::vector<std::int32_t>(30, 0), io::DatasetWriter::Counting::kHere,
                  values);
    writer.commit();
  }
  auto reader = std::make_shared<const io::DatasetReader>(path);
  const Normalization identity{"L", {0.f}, {1.f}};
  LoaderOptions options;
  options.batch_size = 7;
  options.seed = 3;
  Loader train(reader, identity, {}, options);
  train.start_epoch(0);
  nn::Batch batch;
  std::int64_t rows = 0;
  while (train.next(batch)) {
    ASSERT_EQ(batch.targets.shape(), (nn::Shape{batch.size(), 2, 1, 1}));
    for (std::int64_t r = 0; r < batch.size(); ++r, ++rows) {
      const float pixel = batch.inputs[r * 36];
      EXPECT_EQ(batch.targets[r * 2], pixel);
      EXPECT_EQ(batch.targets[r * 2 + 1], -2 * pixel);
    }
  }
  EXPECT_EQ(rows, 30);
  // Mixup: the values mix with the pixels' weight.
  options.mixing = BatchMixing::from_json({{"type", "mixup"}, {"alpha", 0.4}});
  Loader mixed(reader, identity, {}, options);
  mixed.start_epoch(0);
  while (mixed.next(batch)) {
    for (std::int64_t r = 0; r < batch.size(); ++r) {
      EXPECT_NEAR(batch.targets[r * 2], batch.inputs[r * 36], 1e-4);
      EXPECT_NEAR(batch.targets[r * 2 + 1], -2 * batch.inputs[r * 36], 1e-4);
    }
  }
  // Eval with views: every view row carries its image's values.
  LoaderOptions eval;
  eval.mode = nn::Mode::kEval;
  eval.batch_size = 4;
  ViewOptions views;
  views.crops = 5;
  views.crop = cv::Size(4, 4);
  eval.views = views;
  Loader viewed(reader, identity, {}, eval);
  viewed.start_epoch(0);
  ASSERT_TRUE(viewed.next(batch));
  ASSERT_EQ(batch.size(), 4 * 5);
  for (std::int64_t r = 0; r < batch.size(); ++r)
    EXPECT_EQ(batch.targets[r * 2], static_cast<float>(r / 5));
}

}  // namespace
}  // namespace kiln::pipeline
