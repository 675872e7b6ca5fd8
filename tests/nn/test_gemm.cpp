#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nn/kernels/gemm.hpp"

namespace kiln::nn {
namespace {

// Padding columns of B and C past n hold this; gemm must neither read them into C nor write them.
constexpr float kSentinel = 1e30f;

struct Case {
  std::int64_t m, n, k;
  bool a_transposed;  // A given as a view of Aᵀ's storage (row stride 1)
  bool accumulate;
};

std::string describe(const Case& c) {
  return std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
         (c.a_transposed ? " A^T-view" : " A") + (c.accumulate ? " +=" : " =");
}

struct Operands {
  std::vector<float> a, b, c;
  StridedMatrix a_view;
  std::int64_t ldb, ldc;
};

// Random A (m × k, in either layout), B (k × n) and C (m × n) with 3 padding columns each.
Operands make_operands(const Case& t, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  Operands o;
  o.ldb = t.n + 3;
  o.ldc = t.n + 3;
  o.a.resize(static_cast<std::size_t>(std::max<std::int64_t>(t.m * t.k, 1)));
  for (float& v : o.a) v = uniform(gen);
  o.a_view = t.a_transposed ? StridedMatrix{o.a.data(), 1, t.m} : StridedMatrix{o.a.data(), t.k, 1};
  o.b.assign(static_cast<std::size_t>(std::max<std::int64_t>(t.k * o.ldb, 1)), kSentinel);
  o.c.assign(static_cast<std::size_t>(t.m * o.ldc), kSentinel);
  for (std::int64_t p = 0; p < t.k; ++p)
    for (std::int64_t j = 0; j < t.n; ++j) o.b[p * o.ldb + j] = uniform(gen);
  for (std::int64_t i = 0; i < t.m; ++i)
    for (std::int64_t j = 0; j < t.n; ++j) o.c[i * o.ldc + j] = uniform(gen);
  return o;
}

float a_at(const Operands& o, std::int64_t i, std::int64_t p) {
  return o.a_view.data[i * o.a_view.row_stride + p * o.a_view.col_stride];
}

// Checks gemm's result in `c` against the definition; `exact`: against the contract's fused
// multiply-add chain bit for bit, else against a double-precision sum within a tolerance.
void expect_product(const Case& t, const Operands& before, const std::vector<float>& c,
                    bool exact) {
  for (std::int64_t i = 0; i < t.m; ++i) {
    for (std::int64_t j = 0; j < t.n; ++j) {
      const float start = t.accumulate ? before.c[i * before.ldc + j] : 0.f;
      float chain = start;
      double sum = start, magnitude = std::abs(start);
      for (std::int64_t p = 0; p < t.k; ++p) {
        const float ap = a_at(before, i, p), bp = before.b[p * before.ldb + j];
        chain = std::fma(ap, bp, chain);
        sum += double(ap) * bp;
        magnitude += std::abs(double(ap) * bp);
      }
      const float got = c[i * before.ldc + j];
      if (exact) {
        ASSERT_EQ(got, chain) << describe(t) << " at (" << i << ", " << j << ")";
      } else {
        ASSERT_NEAR(got, sum, 1e-5 * (magnitude + 1))
            << describe(t) << " at (" << i << ", " << j << ")";
      }
    }
    for (std::int64_t j = t.n; j < before.ldc; ++j)
      ASSERT_EQ(c[i * before.ldc + j], kSentinel) << describe(t) << ": wrote past column n";
  }
}

// m around the row tiles (12 with AVX-512, 6 with AVX2) and below them, n around the column
// tiles and their two halves (32 = 16 + 16, 16 = 8 + 8), k around the 256-deep blocks; k = 0 too.
std::vector<Case> cases() {
  std::vector<Case> all;
  for (std::int64_t m : {1, 5, 12, 13, 30})
    for (std::int64_t n : {1, 10, 16, 17, 32, 45, 70})
      for (std::int64_t k : {0, 1, 7, 256, 300, 600})
        for (bool a_transposed : {false, true})
          for (bool accumulate : {false, true}) all.push_back({m, n, k, a_transposed, accumulate});
  return all;
}

TEST(Gemm, EveryElementIsTheDefinedChainOfFusedMultiplyAdds) {
  // The contract that makes results independent of how callers split C: each element is one
  // chain over k in order, the depth blocks included. Exact only for kiln's own kernel.
  unsigned seed = 1;
  for (const Case& t : cases()) {
    const Operands o = make_operands(t, seed++);
    std::vector<float> c = o.c;
    gemm(t.m, t.n, t.k, o.a_view, o.b.data(), o.ldb, c.data(), o.ldc, t.accumulate);
    expect_product(t, o, c, gemm_has_own_kernel());
  }
}

TEST(Gemm, PortableProductMatchesTheDefinition) {
  unsigned seed = 1000;
  for (const Case& t : cases()) {
    const Operands o = make_operands(t, seed++);
    std::vector<float> c = o.c;
    gemm_portable(t.m, t.n, t.k, o.a_view, o.b.data(), o.ldb, c.data(), o.ldc, t.accumulate);
    expect_product(t, o, c, false);
  }
}

TEST(Gemm, AnElementDoesNotDependOnHowCIsSplit) {
  // Rows 0..16 and columns 0..40 in one call, or as four calls on the quarters: same bits.
  // Eigen's blocking depends on the shape of the call, so only kiln's own kernel promises this.
  if (!gemm_has_own_kernel()) GTEST_SKIP() << "gemm runs Eigen's product on this target";
  const Case whole{17, 41, 300, false, true};
  const Operands o = make_operands(whole, 7);
  std::vector<float> in_one = o.c, in_parts = o.c;
  gemm(17, 41, 300, o.a_view, o.b.data(), o.ldb, in_one.data(), o.ldc, true);
  for (std::int64_t i0 : {0, 7})
    for (std::int64_t j0 : {0, 19}) {
      const std::int64_t rows = i0 == 0 ? 7 : 10, cols = j0 == 0 ? 19 : 22;
      const StridedMatrix a_part{o.a.data() + i0 * 300, 300, 1};
      gemm(rows, cols, 300, a_part, o.b.data() + j0, o.ldb, in_parts.data() + i0 * o.ldc + j0,
           o.ldc, true);
    }
  EXPECT_EQ(in_one, in_parts);
}

TEST(Gemm, AnyOtherLayoutOfAGoesThroughThePortableProduct) {
  // Neither stride 1 (every other element of a wider matrix): still the right product.
  const std::int64_t m = 6, n = 20, k = 9;
  std::vector<float> storage(static_cast<std::size_t>(2 * m * k));
  for (std::size_t i = 0; i < storage.size(); ++i) storage[i] = float(i % 7) - 3.f;
  std::vector<float> b(static_cast<std::size_t>(k * n)), c(static_cast<std::size_t>(m * n));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) - 2.f;
  gemm(m, n, k, {storage.data(), 2 * k, 2}, b.data(), n, c.data(), n, false);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      float want = 0.f;
      for (std::int64_t p = 0; p < k; ++p) want += storage[i * 2 * k + 2 * p] * b[p * n + j];
      EXPECT_EQ(c[i * n + j], want) << i << ", " << j;  // small integers: exact in any order
    }
}

}  // namespace
}  // namespace kiln::nn
