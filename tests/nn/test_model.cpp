#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/model.hpp"
#include "nn/model/zoo.hpp"
#include "nn/training/trainer.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

// Two Gaussian blobs per class in 8 dimensions: an MLP separates them easily.
// Batches of 16 (the last may be shorter), one optimizer step each.
const StepLayout kInMemoryLayout{.batch_size = 16};

class InMemorySource final : public BatchSource {
 public:
  explicit InMemorySource(std::int64_t n) : n_(n) {}
  Shape sample_shape() const override { return {1, 8, 1, 1}; }
  std::int64_t num_samples() const override { return n_; }
  void start_epoch(std::uint64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= n_) return false;
    const std::int64_t rows = std::min<std::int64_t>(16, n_ - next_);
    batch.inputs.resize({rows, 8, 1, 1});
    batch.labels.clear();
    batch.indices.clear();
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t i = next_ + r;
      Rng rng({3, 0, static_cast<std::uint64_t>(i), 1});
      const int label = static_cast<int>(i % 3);
      for (int f = 0; f < 8; ++f)
        batch.inputs[r * 8 + f] = (f % 3 == label ? 2.f : 0.f) + rng.normal(0, 0.5f);
      batch.labels.push_back(label);
      batch.indices.push_back(static_cast<std::uint64_t>(i));
    }
    next_ += rows;
    return true;
  }

 private:
  std::int64_t n_;
  std::int64_t next_ = 0;
};

TEST(Model, ConfigRoundTripsAndInfersShapes) {
  Model model = Model::from_config(builtin_model("mlp", {1, 1, 28, 28}, 10));
  EXPECT_EQ(model.output_shape(), (Shape{1, 10, 1, 1}));
  EXPECT_EQ(model.parameter_count(), 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
  Model again = Model::from_config(model.config());
  EXPECT_EQ(again.config(), model.config());
  EXPECT_NE(model.summary().find("Total params: 669706"), std::string::npos);
}

// Parameter counts as Keras' model.summary() prints them for the same architectures.
TEST(Zoo, BuiltInModelsHaveTheirKnownParameterCounts) {
  auto count = [](const char* name, Shape input) {
    return Model::from_config(builtin_model(name, input, 10)).parameter_count();
  };
  EXPECT_EQ(count("mnist_cnn", {1, 1, 28, 28}), 1199882);
  EXPECT_EQ(count("cifar_cnn", {1, 3, 32, 32}), 1250858);
  // lenet5 by hand: 6·(25+1) + 16·(6·25+1) + 400·120+120 + 120·84+84 + 84·10+10
  EXPECT_EQ(count("lenet5", {1, 1, 28, 28}), 156 + 2416 + 48120 + 10164 + 850);
  for (const std::string& name : builtin_model_names()) {
    const Json options =
        name == "alexnet" || name == "vgg16" ? Json{{"width", 0.125}} : Json::object();
    Model model = Model::from_config(builtin_model(name, {1, 1, 28, 28}, 10, options));
    EXPECT_EQ(model.output_shape(), (Shape{1, 10, 1, 1})) << name;
  }
  // Width scales every layer; other models take no options.
  EXPECT_LT(Model::from_config(builtin_model("vgg16", {1, 3, 32, 32}, 10, {{"width", 0.25}}))
                .parameter_count(),
            count("vgg16", {1, 3, 32, 32}) / 10);
  EXPECT_THROW(builtin_model("mlp", {1, 1, 28, 28}, 10, {{"width", 2}}), Error);
  EXPECT_THROW(builtin_model("vgg16", {1, 1, 28, 28}, 10, {{"width", 0}}), Error);
}

TEST(Model, RejectsMalformedConfigs) {
  EXPECT_THROW(Model::from_config({{"layers", Json::array()}}), Error);
  EXPECT_THROW(Model::from_config({{"input", {1, 2, 2}}, {"layers", Json::array()}}), Error);
  EXPECT_THROW(Model::from_config({{"input", {1, 2, 2}}, {"layers", {{{"units", 3}}}}}), Error);
  EXPECT_THROW(builtin_model("resnet9000", {1, 1, 28, 28}, 10), Error);
}

TEST(Model, WholeModelGradientMatchesFiniteDifferences) {
  Model model = Model::from_config({{"input", {4, 1, 1}},
                                    {"layers",
                                     {{{"type", "dense"}, {"units", 5}},
                                      {{"type", "relu"}},
                                      {{"type", "dense"}, {"units", 3}}}}});
  model.initialize(2);
  Tensor x({2, 4, 1, 1});
  testing::fill_uniform(x, 4, -1, 1);
  Tensor dy({2, 3, 1, 1});
  testing::fill_uniform(dy, 6, -1, 1);
  testing::expect_model_gradients_match(model, x, dy, 1e-2f);
}

// Model lets conv2d, dense and batch_norm apply a following ReLU themselves
// (Layer::absorb_relu). The reference runs the same layers one by one, each built on its own from
// the same config and weights, so nothing is absorbed there: outputs, input-side and parameter
// gradients must agree bit for bit, in training (batch statistics) and evaluation. ReLUs after a
// ReLU, or first in a model, stay layers of their own.
class AbsorbedRelu : public ::testing::TestWithParam<Mode> {};

TEST_P(AbsorbedRelu, EqualsTheLayersRunApart) {
  const StepContext ctx{GetParam()};
  const Json config = {{"input", {2, 7, 6}},
                       {"layers",
                        {{{"type", "relu"}},
                         {{"type", "conv2d"}, {"filters", 3}, {"kernel_size", 3}},
                         {{"type", "batch_norm"}},
                         {{"type", "relu"}},
                         {{"type", "relu"}},
                         {{"type", "conv2d"}, {"filters", 4}, {"kernel_size", 2}},
                         {{"type", "relu"}},
                         {{"type", "flatten"}},
                         {{"type", "dense"}, {"units", 5}},
                         {{"type", "relu"}},
                         {{"type", "dense"}, {"units", 4}},
                         {{"type", "batch_norm"}},
                         {{"type", "relu"}},
                         {{"type", "dense"}, {"units", 3}}}}};
  Model model = Model::from_config(config);
  model.initialize(4);
  std::vector<std::unique_ptr<Layer>> apart;
  Shape shape{1, 2, 7, 6};
  for (std::size_t i = 0; i < model.size(); ++i) {
    Json options = config["layers"][i];
    options.erase("type");
    apart.push_back(make_layer(config["layers"][i]["type"], options));
    shape = apart.back()->build(shape);
    const auto mine = apart.back()->parameters(), theirs = model.layer(i).parameters();
    for (std::size_t p = 0; p < mine.size(); ++p) mine[p]->value = theirs[p]->value;
    const auto buffers = apart.back()->buffers(), held = model.layer(i).buffers();
    for (std::size_t b = 0; b < buffers.size(); ++b) {
      testing::fill_uniform(held[b]->value, 20 + i, 0.5f, 1.5f);  // running statistics in use
      buffers[b]->value = held[b]->value;
    }
  }
  ASSERT_TRUE(model.absorbed(3)) << "batch_norm takes the ReLU after it";
  Tensor x({5, 2, 7, 6});
  testing::fill_uniform(x, 8, -1, 1);
  Tensor dy({5, 3, 1, 1});
  testing::fill_uniform(dy, 9, -1, 1);
  model.zero_grad();
  const Tensor out = model.forward(x, ctx);
  model.backward(x, dy);

  std::vector<Tensor> outputs(apart.size());
  const Tensor* in = &x;
  for (std::size_t i = 0; i < apart.size(); ++i) {
    apart[i]->forward(*in, outputs[i], ctx);
    in = &outputs[i];
  }
  EXPECT_EQ(out.span().size(), outputs.back().span().size());
  EXPECT_TRUE(std::equal(out.span().begin(), out.span().end(), outputs.back().span().begin()));
  Tensor grad = dy, next;
  for (std::size_t i = apart.size(); i-- > 0;) {
    for (Parameter* p : apart[i]->parameters()) p->grad.fill(0.f);
    apart[i]->backward(i == 0 ? x : outputs[i - 1], outputs[i], grad, next);
    std::swap(grad, next);
  }
  for (std::size_t i = 0; i < apart.size(); ++i) {
    const auto mine = apart[i]->parameters(), theirs = model.layer(i).parameters();
    for (std::size_t p = 0; p < mine.size(); ++p) {
      EXPECT_TRUE(std::equal(mine[p]->grad.span().begin(), mine[p]->grad.span().end(),
                             theirs[p]->grad.span().begin()))
          << "layer " << i << " " << mine[p]->name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, AbsorbedRelu, ::testing::Values(Mode::kTrain, Mode::kEval));

TEST(Trainer, LearnsASeparableProblem) {
  Model model = Model::from_config({{"input", {8, 1, 1}},
                                    {"layers",
                                     {{{"type", "dense"}, {"units", 16}},
                                      {{"type", "relu"}},
                                      {{"type", "dense"}, {"units", 3}}}}});
  model.initialize(1);
  Sgd sgd(0.9f, false);
  InMemorySource data(300);
  const EvalResult before = Trainer::evaluate(model, data);
  TrainState state;
  state.learning_rate = 0.05f;
  Trainer::fit(model, sgd, data, state, 5, kInMemoryLayout);
  const EvalResult after = Trainer::evaluate(model, data);
  EXPECT_EQ(state.epoch, 5);
  EXPECT_EQ(state.step, 5 * 19);
  EXPECT_LT(after.loss, before.loss * 0.5);
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(after.accuracy, 0.95);
}

TEST(Trainer, ReportsThePenaltyInTheLossAndKeepsTheMaxNorm) {
  auto config = [](const Json& regularizer) {
    return Json{
        {"input", {8, 1, 1}},
        {"layers", {{{"type", "dense"}, {"units", 3}, {"kernel_regularizer", regularizer}}}}};
  };
  Model model = Model::from_config(config({{"l2", 0.5}}));
  model.initialize(1);
  InMemorySource data(32);
  struct Capture final : Callback {
    double loss = 0;
    Verdict on_epoch_end(TrainState&, const EpochLogs& logs) override {
      loss = logs.loss;
      return Verdict::kContinue;
    }
  } capture;
  Callback* callbacks[] = {&capture};
  // A learning rate too small to move anything: the epoch loss is data loss + penalty, per batch.
  const double data_loss = Trainer::evaluate(model, data).loss;
  const double penalty = model.regularization_penalty();
  ASSERT_GT(penalty, 0.01);
  Sgd tiny(0.f, false);
  TrainState state;
  state.learning_rate = 1e-12f;
  Trainer::fit(model, tiny, data, state, 1, kInMemoryLayout, callbacks);
  EXPECT_NEAR(capture.loss, data_loss + penalty, 1e-4);
  // Max-norm: after the steps every unit's incoming weights have norm <= 0.3.
  Model constrained = Model::from_config(config({{"max_norm", 0.3}}));
  constrained.initialize(1);
  Sgd sgd(0.9f, false);
  TrainState fresh;
  fresh.learning_rate = 0.1f;
  Trainer::fit(constrained, sgd, data, fresh, 2, kInMemoryLayout);
  const Parameter& w = *constrained.parameters()[0];
  for (std::int64_t unit = 0; unit < 3; ++unit) {
    double sum = 0;
    for (std::int64_t k = 0; k < 8; ++k) sum += w.value[unit * 8 + k] * w.value[unit * 8 + k];
    EXPECT_LE(std::sqrt(sum), 0.3 + 1e-5);
  }
}

// An image source for a small CNN: 4-channel 6x6 samples whose class shifts the mean.
// Batches of 24, one optimizer step each.
const StepLayout kImageLayout{.batch_size = 24};

class ImageSource final : public BatchSource {
 public:
  Shape sample_shape() const override { return {1, 2, 6, 6}; }
  std::int64_t num_samples() const override { return 96; }
  void start_epoch(std::uint64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= 96) return false;
    batch.inputs.resize({24, 2, 6, 6});
    batch.labels.clear();
    batch.indices.clear();
    for (std::int64_t r = 0; r < 24; ++r) {
      const auto i = static_cast<std::uint64_t>(next_ + r);
      Rng rng({9, 0, i, 1});
      const int label = static_cast<int>(i % 3);
      for (std::int64_t e = 0; e < 72; ++e)
        batch.inputs[r * 72 + e] = rng.normal(0.3f * label, 1.f);
      batch.labels.push_back(label);
      batch.indices.push_back(i);
    }
    next_ += 24;
    return true;
  }

 private:
  std::int64_t next_ = 0;
};

// A small CNN trained for 3 steps from seed 5: its parameters and batch norm statistics.
std::vector<float> train_small_cnn() {
  Model model = Model::from_config(
      {{"input", {2, 6, 6}},
       {"layers",
        {{{"type", "conv2d"}, {"filters", 8}, {"padding", "same"}},
         {{"type", "batch_norm"}},
         {{"type", "relu"}},
         {{"type", "conv2d"}, {"filters", 16}, {"padding", "same"}, {"algorithm", "winograd"}},
         {{"type", "relu"}},
         {{"type", "max_pool2d"}},
         {{"type", "dropout"}, {"rate", 0.3}},
         {{"type", "flatten"}},
         {{"type", "dense"}, {"units", 3}}}}});
  model.initialize(5);
  auto adam = make_optimizer({{"type", "adam"}});
  ImageSource data;
  TrainState state;
  state.seed = 5;
  state.learning_rate = 0.01f;
  Trainer::fit(model, *adam, data, state, 3, kImageLayout);
  std::vector<float> all;
  for (Parameter* p : model.parameters())
    all.insert(all.end(), p->value.span().begin(), p->value.span().end());
  for (Buffer* b : model.layer(1).buffers())
    all.insert(all.end(), b->value.span().begin(), b->value.span().end());
  return all;
}

// Conv (im2col and Winograd), batch norm, dropout and dense trained with 1, 2 and 4 threads
// (4 oversubscribes a two-core machine, in an arena of its own): identical bits.
TEST(Trainer, SameSeedSameWeightsWithOneTwoOrFourThreadsForACnn) {
  auto train = [](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    tbb::task_arena arena(threads);
    return arena.execute([&] { return train_small_cnn(); });
  };
  const auto one = train(1);
  EXPECT_EQ(one, train(2));
  EXPECT_EQ(one, train(4));
  EXPECT_EQ(one, train(1));
}

// What a mid-epoch checkpoint holds, taken after a given step; then the run stops as a kill would.
struct Interrupted {};
class SnapshotAtStep final : public Callback {
 public:
  SnapshotAtStep(std::int64_t step, Model& model, const Optimizer& optimizer)
      : step_(step), model_(model), optimizer_(optimizer) {}
  void on_batch_end(const TrainState& now, std::int64_t /*batch*/, double /*loss*/) override {
    if (now.step != step_) return;
    state = now;
    optimizer_state = optimizer_.state();
    for (Tensor* t : model_.state_tensors()) tensors.push_back(*t);
    throw Interrupted{};
  }
  TrainState state;
  OptimizerState optimizer_state;
  std::vector<Tensor> tensors;

 private:
  std::int64_t step_;
  Model& model_;
  const Optimizer& optimizer_;
};

class EpochRecorder final : public Callback {
 public:
  Verdict on_epoch_end(TrainState& /*state*/, const EpochLogs& logs) override {
    losses.push_back(logs.loss);
    accuracies.push_back(logs.accuracy);
    samples.push_back(logs.samples);
    return Verdict::kContinue;
  }
  std::vector<double> losses, accuracies;
  std::vector<std::int64_t> samples;
};

// A run stopped after any step and resumed from what a mid-epoch checkpoint holds continues from
// the next batch: the same weights, batch-norm statistics and epoch figures as a run never
// stopped (conv, batch norm, dropout, Adam).
TEST(Trainer, ResumedMidEpochEqualsAnUninterruptedRun) {
  const Json config = {{"input", {2, 6, 6}},
                       {"layers",
                        {{{"type", "conv2d"}, {"filters", 4}, {"padding", "same"}},
                         {{"type", "batch_norm"}},
                         {{"type", "relu"}},
                         {{"type", "dropout"}, {"rate", 0.3}},
                         {{"type", "flatten"}},
                         {{"type", "dense"}, {"units", 3}}}}};
  constexpr std::int64_t kEpochs = 3, kBatchesPerEpoch = 4;
  const auto fresh_state = [] {
    TrainState state;
    state.seed = 7;
    state.learning_rate = 0.01f;
    return state;
  };
  Model straight = Model::from_config(config);
  straight.initialize(7);
  auto adam = make_optimizer({{"type", "adam"}});
  ImageSource data;
  TrainState state = fresh_state();
  EpochRecorder straight_logs;
  Callback* recorder[] = {&straight_logs};
  Trainer::fit(straight, *adam, data, state, kEpochs, kImageLayout, recorder);

  for (std::int64_t cut = 1; cut < kEpochs * kBatchesPerEpoch; ++cut) {
    Model first = Model::from_config(config);
    first.initialize(7);
    auto first_adam = make_optimizer({{"type", "adam"}});
    SnapshotAtStep snapshot(cut, first, *first_adam);
    EpochRecorder first_logs;
    Callback* callbacks[] = {&first_logs, &snapshot};
    TrainState first_state = fresh_state();
    EXPECT_THROW(
        Trainer::fit(first, *first_adam, data, first_state, kEpochs, kImageLayout, callbacks),
        Interrupted);
    EXPECT_EQ(snapshot.state.progress.batches, (cut - 1) % kBatchesPerEpoch + 1);

    Model resumed = Model::from_config(config);
    const auto tensors = resumed.state_tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i) *tensors[i] = snapshot.tensors[i];
    auto resumed_adam = make_optimizer({{"type", "adam"}});
    resumed_adam->load(snapshot.optimizer_state);
    TrainState resumed_state = snapshot.state;
    EpochRecorder resumed_logs = first_logs;
    Callback* after[] = {&resumed_logs};
    Trainer::fit(resumed, *resumed_adam, data, resumed_state, kEpochs, kImageLayout, after);

    EXPECT_EQ(resumed_state.step, state.step) << "cut after step " << cut;
    EXPECT_EQ(resumed_logs.losses, straight_logs.losses) << "cut after step " << cut;
    EXPECT_EQ(resumed_logs.accuracies, straight_logs.accuracies) << "cut after step " << cut;
    EXPECT_EQ(resumed_logs.samples, straight_logs.samples) << "cut after step " << cut;
    const auto expected = straight.state_tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      ASSERT_TRUE(std::equal(tensors[i]->span().begin(), tensors[i]->span().end(),
                             expected[i]->span().begin()))
          << "tensor " << i << " differs, cut after step " << cut;
    }
  }
}

TEST(Trainer, StopsWithAClearErrorWhenTheLossDiverges) {
  Model model =
      Model::from_config({{"input", {8, 1, 1}}, {"layers", {{{"type", "dense"}, {"units", 3}}}}});
  model.initialize(1);
  Sgd sgd(0.f, false);
  InMemorySource data(300);
  TrainState state;
  state.learning_rate = 1e38f;  // weights overflow to inf within a few steps
  try {
    Trainer::fit(model, sgd, data, state, 3, kInMemoryLayout);
    FAIL() << "expected divergence";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("learning rate"), std::string::npos) << e.what();
  }
}

TEST(Trainer, RejectsDataOfTheWrongShape) {
  Model model = Model::from_config(builtin_model("mlp", {1, 1, 28, 28}, 10));
  InMemorySource data(10);
  EXPECT_THROW(Trainer::evaluate(model, data), Error);
}

// An output-only forward (what evaluate, predict and validation run) lets each convolution apply
// the batch norm after it: resnet18 at 3×64×64 has one on every convolution path (the stem's
// per-sample product, Winograd in groups and over the batch, the whole-batch product at 2×2,
// the 1×1 projections). With random statistics and affine parameters, the output must be the
// very floats of the layers run apart; backward() and layer_output() after it are refused.
TEST(Model, OutputOnlyForwardAppliesBatchNormsInTheConvolutionsBitForBit) {
  Model model = Model::from_config(builtin_model("resnet18", {1, 3, 64, 64}, 10));
  model.initialize(3);
  std::size_t norms = 0, applied = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model.layer(i).type() != "batch_norm") continue;
    ++norms;
    applied += model.applied_by_input(i) ? 1 : 0;
    std::uint64_t seed = 10 * i;
    for (Parameter* p : model.layer(i).parameters())
      testing::fill_uniform(p->value, ++seed, 0.5f, 1.5f);
    for (Buffer* b : model.layer(i).buffers()) testing::fill_uniform(b->value, ++seed, 0.2f, 2.f);
  }
  EXPECT_EQ(applied, norms);
  ASSERT_GT(norms, 15u);
  Tensor x({3, 3, 64, 64});
  testing::fill_uniform(x, 1, -1, 1);
  const Tensor& plain = model.forward(x, {});
  const std::vector<float> expected(plain.span().begin(), plain.span().end());
  StepContext output_only;
  output_only.output_only = true;
  const Tensor& mapped = model.forward(x, output_only);
  EXPECT_EQ(std::vector<float>(mapped.span().begin(), mapped.span().end()), expected);
  Tensor dy(mapped.shape());
  EXPECT_THROW(model.backward(x, dy), Error);
  EXPECT_THROW(model.layer_output(0), Error);  // not kept apart
  model.forward(x, {});
  EXPECT_EQ(model.layer_output(0).shape(), (Shape{3, 64, 32, 32}));
}

}  // namespace
}  // namespace kiln::nn
