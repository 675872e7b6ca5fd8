#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/weight_decay.hpp"

namespace kiln::nn {
namespace {

Parameter scalar(float value, float grad) {
  Parameter p{"w", Tensor({1, 1, 1, 1}, value), Tensor({1, 1, 1, 1}, grad), {}};
  return p;
}

TEST(Sgd, PlainStepIsWMinusLrG) {
  Sgd sgd(0.f, false);
  Parameter p = scalar(1.f, 2.f);
  Parameter* params[] = {&p};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.8f);
}

TEST(Sgd, MomentumMatchesHandComputedSteps) {
  // v1 = -0.1*1 = -0.1, w1 = 0.9; v2 = 0.9*(-0.1) - 0.1*1 = -0.19, w2 = 0.71
  Sgd sgd(0.9f, false);
  Parameter p = scalar(1.f, 1.f);
  Parameter* params[] = {&p};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.9f);
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.71f);
  EXPECT_EQ(sgd.state().iterations, 2);
}

TEST(Sgd, NesterovMatchesHandComputedSteps) {
  // v1 = -0.1, w1 = 1 + 0.9*(-0.1) - 0.1 = 0.81
  Sgd sgd(0.9f, true);
  Parameter p = scalar(1.f, 1.f);
  Parameter* params[] = {&p};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.81f);
}

TEST(Sgd, StateRoundTripGivesTheSameNextStep) {
  Sgd a(0.9f, false);
  Parameter pa = scalar(1.f, 1.f);
  Parameter* params_a[] = {&pa};
  a.step(params_a, 0.1f);
  Sgd b(0.9f, false);
  b.load(a.state());
  Parameter pb = pa;
  Parameter* params_b[] = {&pb};
  a.step(params_a, 0.1f);
  b.step(params_b, 0.1f);
  EXPECT_EQ(pa.value[0], pb.value[0]);
}

TEST(Sgd, WeightDecayAddsLambdaTimesTheWeightToTheGradient) {
  // w = 2, g = 0.5, λ = 0.1, μ = 0.9, lr = 0.5: g' = 0.5 + 0.2 = 0.7, v1 = -0.35, w1 = 1.65.
  // Step 2, g = 0: g' = 0.165, v2 = 0.9·(-0.35) - 0.5·0.165 = -0.3975, w2 = 1.2525.
  auto sgd = make_optimizer({{"type", "sgd"}, {"momentum", 0.9}, {"weight_decay", 0.1}});
  Parameter p = scalar(2.f, 0.5f);
  Parameter* params[] = {&p};
  sgd->step(params, 0.5f);
  EXPECT_NEAR(p.value[0], 1.65, 1e-6);
  p.grad[0] = 0.f;
  sgd->step(params, 0.5f);
  EXPECT_NEAR(p.value[0], 1.2525, 1e-6);
  EXPECT_EQ(sgd->config()["weight_decay"], 0.1f);  // a checkpoint's optimizer keeps it
  EXPECT_THROW(make_optimizer({{"type", "sgd"}, {"weight_decay", -1.0}}), Error);
}

TEST(Sgd, RejectsMomentumOutOfRange) {
  EXPECT_THROW(Sgd(1.f, false), Error);
  EXPECT_THROW(make_optimizer({{"type", "sgd"}, {"momentun", 0.9}}), Error);
  EXPECT_THROW(make_optimizer({{"type", "adamx"}}), Error);
}

// Two parameters, two steps, every number worked out by hand in the comments.
TEST(AdaGrad, MatchesHandComputedSteps) {
  // G0 = 0.1; g = 2: G1 = 4.1, w1 = 1 - 0.5·2/(√4.1 + ε) = 0.50611...; G2 = 8.1, w2 = w1 - 1/√8.1
  AdaGrad opt(0.1f, 1e-7f);
  Parameter p = scalar(1.f, 2.f);
  Parameter* params[] = {&p};
  opt.step(params, 0.5f);
  EXPECT_NEAR(p.value[0], 1.0 - 1.0 / std::sqrt(4.1), 1e-6);
  opt.step(params, 0.5f);
  EXPECT_NEAR(p.value[0], 1.0 - 1.0 / std::sqrt(4.1) - 1.0 / std::sqrt(8.1), 1e-6);
}

TEST(RmsProp, MatchesHandComputedSteps) {
  // ρ = 0.9, g = 1: E1 = 0.1, w1 = 1 - 0.01/√0.1; E2 = 0.19, w2 = w1 - 0.01/√0.19
  RmsProp opt(0.9f, 1e-7f);
  Parameter p = scalar(1.f, 1.f);
  Parameter* params[] = {&p};
  opt.step(params, 0.01f);
  EXPECT_NEAR(p.value[0], 1.0 - 0.01 / std::sqrt(0.1), 1e-6);
  opt.step(params, 0.01f);
  EXPECT_NEAR(p.value[0], 1.0 - 0.01 / std::sqrt(0.1) - 0.01 / std::sqrt(0.19), 1e-6);
}

TEST(Adam, AppliesTheFullBiasCorrection) {
  // Step 1 with any g: m̂ = g, v̂ = g², so w moves by exactly lr·g/(|g| + ε) ≈ lr·sign(g).
  Adam opt(0.9f, 0.999f, 1e-8f, 0.f);
  Parameter p = scalar(1.f, 0.5f);
  Parameter* params[] = {&p};
  opt.step(params, 0.1f);
  EXPECT_NEAR(p.value[0], 0.9, 1e-6);
  // Step 2 with g = -0.25: m = 0.09·... by hand:
  //   m1 = 0.05, v1 = 0.00025; m2 = 0.9·0.05 + 0.1·(-0.25) = 0.02, v2 = 0.999·0.00025 +
  //   0.001·0.0625 m̂ = 0.02 / (1 - 0.81) = 0.105263..., v̂ = 0.00031225 / (1 - 0.998001) =
  //   0.156203...
  p.grad[0] = -0.25f;
  opt.step(params, 0.1f);
  const double m_hat = 0.02 / 0.19,
               v_hat = (0.999 * 0.00025 + 0.001 * 0.0625) / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p.value[0], 0.9 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-5);
  EXPECT_EQ(opt.state().iterations, 2);
  EXPECT_EQ(opt.state().slots.size(), 2u);  // m and v of the one parameter
}

TEST(AdamW, DecaysTheWeightApartFromTheGradient) {
  // g = 0: Adam alone would not move w; AdamW moves it by lr·λ·w.
  auto adamw = make_optimizer({{"type", "adamw"}, {"weight_decay", 0.1}});
  EXPECT_EQ(adamw->type(), "adamw");
  Parameter p = scalar(2.f, 0.f);
  Parameter* params[] = {&p};
  adamw->step(params, 0.5f);
  EXPECT_NEAR(p.value[0], 2.0 - 0.5 * 0.1 * 2.0, 1e-6);
  EXPECT_THROW(make_optimizer({{"type", "adam"}, {"weight_decay", 0.1}}), Error);
}

// A parameter exempt from weight decay (optimizer.no_decay) steps on its gradient alone, in SGD
// and in AdamW, beside one that decays.
TEST(WeightDecay, AnExemptParameterStepsOnItsGradientAlone) {
  for (const Json& config : {Json{{"type", "sgd"}, {"momentum", 0.0}, {"weight_decay", 0.1}},
                             Json{{"type", "adamw"}, {"weight_decay", 0.1}}}) {
    const auto optimizer = make_optimizer(config);
    const std::string type = config.at("type");
    Parameter decays = scalar(2.f, 0.f), exempt = scalar(2.f, 0.f);
    exempt.decays = false;
    Parameter* params[] = {&decays, &exempt};
    optimizer->step(params, 0.5f);
    EXPECT_NEAR(decays.value[0], 2.0 - 0.5 * 0.1 * 2.0, 1e-6) << type;
    EXPECT_EQ(exempt.value[0], 2.f) << type;  // g = 0 and no decay: it does not move
  }
}

TEST(WeightDecay, NoDecayKindsPickBiasesAndBatchNorm) {
  Model model = Model::from_config({{"input", {1, 4, 4}},
                                    {"layers",
                                     {{{"type", "conv2d"}, {"filters", 2}, {"kernel_size", 3}},
                                      {{"type", "batch_norm"}},
                                      {{"type", "flatten"}},
                                      {{"type", "dense"}, {"units", 3}}}}});
  auto decaying = [&] {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < model.size(); ++i)
      for (const Parameter* p : model.layer(i).parameters())
        if (p->decays) names.push_back(model.layer_name(i) + "/" + p->name);
    return names;
  };
  EXPECT_EQ(exempt_from_weight_decay(model, {"bias", "batch_norm"}), 4);  // 2 biases, γ and β
  EXPECT_EQ(decaying(), (std::vector<std::string>{"conv2d_1/weight", "dense_1/weight"}));
  EXPECT_EQ(exempt_from_weight_decay(model, {"bias"}), 2);
  EXPECT_EQ(decaying().size(), 4u);  // the weights and batch norm's two
  EXPECT_EQ(exempt_from_weight_decay(model, {}), 0);
  EXPECT_THROW(exempt_from_weight_decay(model, {"norms"}), Error);
  // ConvNeXt's layer_norm is its own kind.
  Model convnext = Model::from_config(
      {{"input", {2, 3, 3}},
       {"layers",
        {{{"type", "layer_norm"}}, {{"type", "flatten"}}, {{"type", "dense"}, {"units", 2}}}}});
  EXPECT_EQ(exempt_from_weight_decay(convnext, {"batch_norm"}), 0);
  EXPECT_EQ(exempt_from_weight_decay(convnext, {"layer_norm"}), 2);  // γ and β
  EXPECT_TRUE(convnext.layer(2).parameters()[0]->decays);
}

TEST(ClipNorm, RescalesAllGradientsByTheirGlobalNorm) {
  // Gradients (3) and (4): global norm 5, clipped to 1 → (0.6) and (0.8); plain SGD with lr 1.
  auto sgd = make_optimizer({{"type", "sgd"}, {"clip_norm", 1.0}});
  Parameter a = scalar(0.f, 3.f), b = scalar(0.f, 4.f);
  Parameter* params[] = {&a, &b};
  sgd->step(params, 1.f);
  EXPECT_NEAR(a.value[0], -0.6, 1e-6);
  EXPECT_NEAR(b.value[0], -0.8, 1e-6);
  // Below the threshold nothing changes.
  auto loose = make_optimizer({{"type", "sgd"}, {"clip_norm", 10.0}});
  Parameter c = scalar(0.f, 3.f);
  Parameter* one[] = {&c};
  loose->step(one, 1.f);
  EXPECT_NEAR(c.value[0], -3.0, 1e-6);
}

TEST(Optimizers, ConfigsRoundTripAndStateMustFitTheModel) {
  for (const std::string& type : optimizer_types()) {
    auto opt = make_optimizer({{"type", type}});
    EXPECT_EQ(make_optimizer(opt->config())->config(), opt->config()) << type;
  }
  auto adam = make_optimizer({{"type", "adam"}});
  Parameter p = scalar(1.f, 1.f);
  Parameter* params[] = {&p};
  adam->step(params, 0.1f);
  Parameter big{"w", Tensor({3, 1, 1, 1}), Tensor({3, 1, 1, 1}), {}};
  Parameter* other[] = {&big};
  EXPECT_THROW(adam->step(other, 0.1f), Error);  // state of a 1-element parameter, model of 3
}

}  // namespace
}  // namespace kiln::nn
