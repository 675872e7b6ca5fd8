#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogK) {
  Tensor logits({2, 4, 1, 1}, 0.3f);
  const std::vector<std::int32_t> labels = {1, 3};
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr);
  EXPECT_NEAR(r.loss, std::log(4.0), 1e-6);
}

TEST(SoftmaxCrossEntropy, HandComputedCase) {
  Tensor logits({1, 3, 1, 1});
  logits[0] = 1.f;
  logits[1] = 2.f;
  logits[2] = 3.f;
  const std::vector<std::int32_t> labels = {0};
  Tensor grad, probs;
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, &grad, &probs);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(r.loss, -std::log(std::exp(1.0) / z), 1e-6);
  EXPECT_NEAR(probs[2], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(grad[0], std::exp(1.0) / z - 1.0, 1e-6);
  EXPECT_EQ(r.correct, 0);
}

// Top-1 and top-5 hits from the label's rank; ties rank the lower class id first.
TEST(Losses, CountTopOneAndTopFiveHits) {
  Tensor logits({4, 7, 1, 1});
  for (std::int64_t r = 0; r < 4; ++r)
    for (std::int64_t c = 0; c < 7; ++c) logits[r * 7 + c] = static_cast<float>(c);  // 6 is best
  const std::vector<std::int32_t> labels = {6, 2, 1, 5};  // ranks 1, 5, 6, 2
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr);
  EXPECT_EQ(r.correct, 1);
  EXPECT_EQ(r.correct_top5, 3);
  Tensor tied({1, 7, 1, 1}, 1.f);  // all equal: class c ranks c + 1
  EXPECT_EQ(SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{4}, nullptr, nullptr)
                .correct_top5,
            1);
  EXPECT_EQ(SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{5}, nullptr, nullptr)
                .correct_top5,
            0);
  EXPECT_EQ(
      SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{0}, nullptr, nullptr).correct,
      1);
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor logits({5, 7, 1, 1});
  testing::fill_uniform(logits, 9, -3.f, 3.f);
  const std::vector<std::int32_t> labels = {0, 6, 3, 3, 1};
  Tensor grad;
  SoftmaxCrossEntropy::compute(logits, labels, &grad, nullptr);
  const float eps = 1e-3f;
  for (std::int64_t i = 0; i < logits.size(); ++i) {
    const float saved = logits[i];
    logits[i] = saved + eps;
    const double plus = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr).loss;
    logits[i] = saved - eps;
    const double minus = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr).loss;
    logits[i] = saved;
    EXPECT_NEAR(grad[i], (plus - minus) / (2.0 * eps), 1e-4) << "logit " << i;
  }
}

TEST(SoftmaxCrossEntropy, IsStableForHugeLogits) {
  Tensor logits({1, 3, 1, 1});
  logits[0] = 1000.f;
  logits[1] = -1000.f;
  logits[2] = 999.f;
  const std::vector<std::int32_t> labels = {2};
  Tensor grad;
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, &grad, nullptr);
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_NEAR(r.loss, std::log(1.0 + std::exp(-1.0)) + 1.0, 1e-4);
  for (float g : grad.span()) EXPECT_TRUE(std::isfinite(g));
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutsideTheOutputs) {
  Tensor logits({1, 3, 1, 1});
  const std::vector<std::int32_t> labels = {3};
  EXPECT_THROW(SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr), Error);
}

// Finite differences of every loss through the Loss interface.
TEST(Losses, GradientsMatchFiniteDifferences) {
  const SigmoidBinaryCrossEntropy bce;
  const MeanSquaredError mse;
  const SoftmaxCrossEntropy softmax;
  for (const Loss* loss : std::initializer_list<const Loss*>{&bce, &mse, &softmax}) {
    Tensor out({4, 3, 1, 1});
    testing::fill_uniform(out, 12, -2.f, 2.f);
    const std::vector<std::int32_t> labels = {2, 0, 1, 1};
    Tensor grad;
    loss->compute(out, labels, &grad);
    const float eps = 1e-3f;
    for (std::int64_t i = 0; i < out.size(); ++i) {
      const float saved = out[i];
      out[i] = saved + eps;
      const double plus = loss->compute(out, labels, nullptr).loss;
      out[i] = saved - eps;
      const double minus = loss->compute(out, labels, nullptr).loss;
      out[i] = saved;
      EXPECT_NEAR(grad[i], (plus - minus) / (2.0 * eps), 1e-4) << loss->name() << " output " << i;
    }
  }
}

TEST(Losses, HandComputedValues) {
  Tensor out({1, 2, 1, 1});
  out[0] = 0.f;
  out[1] = 2.f;
  const std::vector<std::int32_t> label = {1};  // targets (0, 1)
  // BCE: ( log(1 + e^0) + log(1 + e^-2) ) / 2
  EXPECT_NEAR(SigmoidBinaryCrossEntropy{}.compute(out, label, nullptr).loss,
              (std::log(2.0) + std::log1p(std::exp(-2.0))) / 2, 1e-7);
  // MSE: ( (0 - 0)² + (2 - 1)² ) / 2
  EXPECT_NEAR(MeanSquaredError{}.compute(out, label, nullptr).loss, 0.5, 1e-7);
  // BCE stays finite for huge logits.
  out[0] = -1000.f;
  out[1] = 1000.f;
  EXPECT_NEAR(SigmoidBinaryCrossEntropy{}.compute(out, label, nullptr).loss, 0.0, 1e-7);
  EXPECT_EQ(make_loss("mean_squared_error")->name(), "mean_squared_error");
  EXPECT_THROW(make_loss("hinge"), Error);
}

}  // namespace
}  // namespace kiln::nn

namespace kiln::nn {
namespace {

// Central differences of loss.compute's value against its gradient, in every element.
void expect_loss_gradient_matches(const Loss& loss, Tensor logits, const Targets& targets) {
  Tensor grad;
  loss.compute(logits, targets, &grad);
  for (std::int64_t i = 0; i < logits.size(); ++i) {
    const float saved = logits[i];
    logits[i] = saved + 1e-2f;
    const double plus = loss.compute(logits, targets, nullptr).loss;
    logits[i] = saved - 1e-2f;
    const double minus = loss.compute(logits, targets, nullptr).loss;
    logits[i] = saved;
    EXPECT_NEAR(grad[i], (plus - minus) / 2e-2, 2e-4) << loss.name() << " element " << i;
  }
}

TEST(LabelSmoothing, SoftmaxTargetsMoveTowardsUniformByHand) {
  // K = 3, ε = 0.3: the label's target is 0.7 + 0.1 = 0.8, the others 0.1.
  Tensor logits({1, 3, 1, 1});
  logits[0] = 1.f;
  logits[1] = 2.f;
  logits[2] = 3.f;
  const auto loss =
      make_loss("softmax_cross_entropy", {.label_smoothing = 0.3, .class_weights = {}});
  Tensor grad;
  const std::vector<std::int32_t> labels = {0};
  const LossResult r = loss->compute(logits, labels, &grad);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double log_p[3] = {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)};
  EXPECT_NEAR(r.loss, -(0.8 * log_p[0] + 0.1 * log_p[1] + 0.1 * log_p[2]), 1e-6);
  EXPECT_NEAR(grad[0], std::exp(1.0) / z - 0.8, 1e-6);
  EXPECT_NEAR(grad[2], std::exp(3.0) / z - 0.1, 1e-6);
  EXPECT_EQ(r.correct, 0);  // accuracy still counts against the label
}

TEST(LabelSmoothing, SigmoidTargetsMoveTowardsOneHalf) {
  // ε = 0.2: t = 0.9 at the label, 0.1 elsewhere (Keras' binary label smoothing).
  Tensor logits({1, 2, 1, 1});
  logits[0] = 0.5f;
  logits[1] = -1.f;
  const auto loss =
      make_loss("sigmoid_binary_cross_entropy", {.label_smoothing = 0.2, .class_weights = {}});
  Tensor grad;
  const LossResult r = loss->compute(logits, std::vector<std::int32_t>{0}, &grad);
  auto bce = [](double z, double t) {
    const double s = 1 / (1 + std::exp(-z));
    return -(t * std::log(s) + (1 - t) * std::log(1 - s));
  };
  EXPECT_NEAR(r.loss, (bce(0.5, 0.9) + bce(-1.0, 0.1)) / 2, 1e-6);
  EXPECT_NEAR(grad[1], (1 / (1 + std::exp(1.0)) - 0.1) / 2, 1e-6);
}

TEST(Losses, SmoothedWeightedAndSoftGradientsMatchFiniteDifferences) {
  Tensor logits({4, 5, 1, 1});
  testing::fill_uniform(logits, 3, -2.f, 2.f);
  const std::vector<std::int32_t> labels = {0, 4, 2, 2};
  Tensor soft({4, 5, 1, 1}, 0.f);  // rows mixing their label with another class
  for (std::int64_t r = 0; r < 4; ++r) {
    soft[r * 5 + labels[static_cast<std::size_t>(r)]] += 0.7f;
    soft[r * 5 + (labels[static_cast<std::size_t>(r)] + 1) % 5] += 0.3f;
  }
  const LossOptions options{.label_smoothing = 0.1, .class_weights = {1, 2, 0.5, 1, 3}};
  for (const char* name : {"softmax_cross_entropy", "sigmoid_binary_cross_entropy"}) {
    const auto loss = make_loss(name, options);
    expect_loss_gradient_matches(*loss, logits, Targets{labels});
    expect_loss_gradient_matches(*loss, logits, Targets{labels, &soft});
  }
  expect_loss_gradient_matches(
      *make_loss("mean_squared_error", {.class_weights = {1, 2, 0.5, 1, 3}}), logits,
      Targets{labels, &soft});
}

TEST(ClassWeights, WeighEachRowByItsClassOverTheWholeBatch) {
  Tensor logits({2, 3, 1, 1});
  testing::fill_uniform(logits, 4, -1.f, 1.f);
  const std::vector<std::int32_t> labels = {0, 2};
  const auto plain = make_loss("softmax_cross_entropy");
  const auto weighted = make_loss("softmax_cross_entropy", {.class_weights = {3, 1, 0.5}});
  // Each row's own loss: a batch of that row alone.
  auto row = [&](std::int64_t r) {
    Tensor one({1, 3, 1, 1});
    for (std::int64_t c = 0; c < 3; ++c) one[c] = logits[r * 3 + c];
    return plain
        ->compute(one, std::vector<std::int32_t>{labels[static_cast<std::size_t>(r)]}, nullptr)
        .loss;
  };
  EXPECT_NEAR(weighted->compute(logits, labels, nullptr).loss, (3 * row(0) + 0.5 * row(1)) / 2,
              1e-12);
  // A soft row weighs by the classes it mixes: 0.25·3 + 0.75·1.
  Tensor soft({2, 3, 1, 1}, 0.f);
  soft[0] = 0.25f;
  soft[1] = 0.75f;
  soft[5] = 1.f;
  const LossResult mixed = weighted->compute(logits, Targets{labels, &soft}, nullptr);
  const LossResult mixed_plain = plain->compute(logits, Targets{labels, &soft}, nullptr);
  EXPECT_GT(mixed.loss, 0);
  EXPECT_NE(mixed.loss, mixed_plain.loss);
}

TEST(LossOptions, BadOptionsNameTheLossAndTheFix) {
  EXPECT_THROW(make_loss("softmax_cross_entropy", {.label_smoothing = 1.0, .class_weights = {}}),
               Error);
  EXPECT_THROW(make_loss("softmax_cross_entropy", {.class_weights = {1, -1}}), Error);
  try {
    const auto loss =
        make_loss("mean_squared_error", {.label_smoothing = 0.1, .class_weights = {}});
    FAIL() << "smoothing accepted for mean squared error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("softmax_cross_entropy"), std::string::npos) << e.what();
  }
  Tensor logits({1, 3, 1, 1});
  try {
    make_loss("softmax_cross_entropy", {.class_weights = {1, 2}})
        ->compute(logits, std::vector<std::int32_t>{0}, nullptr);
    FAIL() << "two weights for three classes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 class weights"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::nn

namespace kiln::nn {
namespace {

// Regression targets: values that are not class rows.
Tensor regression_targets() {
  Tensor t({4, 3, 1, 1});
  testing::fill_uniform(t, 21, -3.f, 3.f);
  return t;
}

TEST(RegressionLosses, GradientsMatchFiniteDifferences) {
  Tensor out({4, 3, 1, 1});
  testing::fill_uniform(out, 22, -3.f, 3.f);
  const Tensor targets = regression_targets();
  const std::vector<std::int32_t> zeros(4, 0);
  for (const char* name : {"mean_squared_error", "mean_absolute_error", "huber"}) {
    const auto loss = make_loss(name, {.task = Task::kRegression, .huber_delta = 0.8});
    expect_loss_gradient_matches(*loss, out, Targets{zeros, &targets});
  }
}

// By hand: d = z − t over one row of three values, δ = 1.
TEST(RegressionLosses, HandComputedValuesAndAbsoluteError) {
  Tensor out({1, 3, 1, 1});
  Tensor t({1, 3, 1, 1});
  const float z[] = {0.5f, 3.f, -1.f}, target[] = {0.f, 1.f, -1.f};  // d = 0.5, 2, 0
  for (int i = 0; i < 3; ++i) out[i] = z[i], t[i] = target[i];
  const std::vector<std::int32_t> zeros(1, 0);
  const Targets targets{zeros, &t};
  Tensor grad;
  const auto mae = make_loss("mean_absolute_error", {.task = Task::kRegression});
  const LossResult a = mae->compute(out, targets, &grad);
  EXPECT_NEAR(a.loss, (0.5 + 2 + 0) / 3, 1e-9);
  EXPECT_NEAR(a.absolute_error, (0.5 + 2 + 0) / 3, 1e-9);
  EXPECT_EQ(a.correct, 0);
  EXPECT_FLOAT_EQ(grad[0], 1.f / 3);
  EXPECT_FLOAT_EQ(grad[2], 0.f);
  const auto huber = make_loss("huber", {.task = Task::kRegression});
  const LossResult h = huber->compute(out, targets, &grad);
  EXPECT_NEAR(h.loss, (0.5 * 0.25 + 1 * (2 - 0.5) + 0) / 3, 1e-9);
  EXPECT_FLOAT_EQ(grad[0], 0.5f / 3);  // inside δ: d
  EXPECT_FLOAT_EQ(grad[1], 1.f / 3);   // beyond δ: δ·sign(d)
  const LossResult m =
      make_loss("mean_squared_error", {.task = Task::kRegression})->compute(out, targets, nullptr);
  EXPECT_NEAR(m.loss, (0.25 + 4 + 0) / 3, 1e-9);
  EXPECT_NEAR(m.absolute_error, (0.5 + 2 + 0) / 3, 1e-9);
}

// Multi-label rows count right only when every output falls on its target's side of 0.5.
TEST(MultiLabelLoss, CountsExactLabelSetsAgainstTheTargetRows) {
  Tensor logits({3, 3, 1, 1});
  Tensor rows({3, 3, 1, 1});
  const float z[] = {2, -1, 3, 2, -1, -3, -2, -1, -3};
  const float t[] = {1, 0, 1, 1, 0, 1, 0, 0, 0};  // right, one class missed, empty set right
  for (int i = 0; i < 9; ++i) logits[i] = z[i], rows[i] = t[i];
  const std::vector<std::int32_t> zeros(3, 0);
  const auto bce = make_loss("sigmoid_binary_cross_entropy", {.task = Task::kMultiLabel});
  const LossResult r = bce->compute(logits, Targets{zeros, &rows}, nullptr);
  EXPECT_EQ(r.correct, 2);
  double expected = 0.0;
  for (int i = 0; i < 9; ++i) {
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(z[i])));
    expected -= t[i] * std::log(p) + (1 - t[i]) * std::log(1 - p);
  }
  EXPECT_NEAR(r.loss, expected / 9, 1e-9);
  expect_loss_gradient_matches(*bce, logits, Targets{zeros, &rows});
}

TEST(LossOptions, ATaskTakesOnlyTheLossesThatFitIt) {
  auto error_of = [](const std::string& name, LossOptions options) {
    try {
      make_loss(name, std::move(options));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("softmax_cross_entropy", {.task = Task::kMultiLabel})
                .find("use sigmoid_binary_cross_entropy"),
            std::string::npos);
  EXPECT_NE(error_of("sigmoid_binary_cross_entropy", {.task = Task::kRegression})
                .find("mean_squared_error, mean_absolute_error or huber"),
            std::string::npos);
  EXPECT_NE(error_of("huber", {.label_smoothing = 0.1, .task = Task::kRegression})
                .find("takes no label smoothing"),
            std::string::npos);
  EXPECT_NE(
      error_of("sigmoid_binary_cross_entropy", {.class_weights = {1, 2}, .task = Task::kMultiLabel})
          .find("class weights are for task classification"),
      std::string::npos);
  EXPECT_NE(error_of("huber", {.task = Task::kRegression, .huber_delta = 0}).find("delta"),
            std::string::npos);
  EXPECT_EQ(
      error_of("sigmoid_binary_cross_entropy", {.label_smoothing = 0.1, .task = Task::kMultiLabel}),
      "");
  // A multi-label batch without its rows is a wiring mistake, named.
  Tensor out({1, 2, 1, 1});
  const std::vector<std::int32_t> zeros(1, 0);
  EXPECT_THROW(make_loss("sigmoid_binary_cross_entropy", {.task = Task::kMultiLabel})
                   ->compute(out, Targets{zeros}, nullptr),
               Error);
}

}  // namespace
}  // namespace kiln::nn
