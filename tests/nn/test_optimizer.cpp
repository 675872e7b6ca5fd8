#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "nn/optimizer.hpp"

namespace kiln::nn {
namespace {

Parameter scalar(float value, float grad) {
  Parameter p{"w", Tensor({1, 1, 1, 1}, value), Tensor({1, 1, 1, 1}, grad)};
  return p;
}

TEST(Sgd, PlainStepIsWMinusLrG) {
  Sgd sgd({0.f, false});
  Parameter p = scalar(1.f, 2.f);
  Parameter* params[] = {&p};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.8f);
}

TEST(Sgd, MomentumMatchesHandComputedSteps) {
  // v1 = -0.1*1 = -0.1, w1 = 0.9; v2 = 0.9*(-0.1) - 0.1*1 = -0.19, w2 = 0.71
  Sgd sgd({0.9f, false});
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
  Sgd sgd({0.9f, true});
  Parameter p = scalar(1.f, 1.f);
  Parameter* params[] = {&p};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(p.value[0], 0.81f);
}

TEST(Sgd, StateRoundTripGivesTheSameNextStep) {
  Sgd a({0.9f, false});
  Parameter pa = scalar(1.f, 1.f);
  Parameter* params_a[] = {&pa};
  a.step(params_a, 0.1f);
  Sgd b({0.9f, false});
  b.load(a.state());
  Parameter pb = pa;
  Parameter* params_b[] = {&pb};
  a.step(params_a, 0.1f);
  b.step(params_b, 0.1f);
  EXPECT_EQ(pa.value[0], pb.value[0]);
}

TEST(Sgd, RejectsMomentumOutOfRange) {
  EXPECT_THROW(Sgd({1.f, false}), Error);
  EXPECT_THROW(make_optimizer({{"type", "sgd"}, {"momentun", 0.9}}), Error);
  EXPECT_THROW(make_optimizer({{"type", "adamx"}}), Error);
}

}  // namespace
}  // namespace kiln::nn
