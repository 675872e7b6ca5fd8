// Search spaces: the forms a parameter may take, grid enumeration, seeded random draws, paths
// into the config; successive halving's rungs; the search's fake-runner behaviour lives in the CLI
// tests (tests/apps/test_search_cli.cpp), which run real trials.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "nn/error.hpp"
#include "pipeline/search/search.hpp"
#include "pipeline/search/search_space.hpp"

namespace kiln::pipeline {
namespace {

using Kind = SearchParam::Kind;

TEST(SearchSpace, ReadsEveryForm) {
  const SearchParam list = parse_search_param("batch_size", Json::parse("[32, 64]"), "test");
  EXPECT_EQ(list.kind, Kind::kValues);
  EXPECT_EQ(list.values.size(), 2u);
  const SearchParam uniform = parse_search_assignment("model.layers.3.rate=uniform(0, 0.6)");
  EXPECT_EQ(uniform.kind, Kind::kUniform);
  EXPECT_EQ(uniform.key, "model.layers.3.rate");
  EXPECT_DOUBLE_EQ(uniform.hi, 0.6);
  const SearchParam log = parse_search_assignment("optimizer.lr=loguniform(1e-4, 1e-1)");
  EXPECT_EQ(log.kind, Kind::kLogUniform);
  EXPECT_TRUE(log.log_scale());
  EXPECT_DOUBLE_EQ(log.lo, 1e-4);
  const SearchParam ints = parse_search_assignment("epochs=int(2, 4)");
  EXPECT_EQ(ints.kind, Kind::kInt);
  const SearchParam choice = parse_search_assignment(R"(optimizer.type=choice(["sgd", "adam"]))");
  EXPECT_EQ(choice.kind, Kind::kValues);
  EXPECT_EQ(choice.values[1], "adam");
  const SearchParam word = parse_search_assignment("model.name=mlp");  // one plain value
  EXPECT_EQ(word.values, std::vector<Json>{"mlp"});
  EXPECT_FALSE(list.log_scale());
  EXPECT_TRUE(parse_search_assignment("optimizer.lr=[0.001, 0.01, 0.1]").log_scale());
}

TEST(SearchSpace, MalformedSpecsAreNamed) {
  for (const char* bad : {"optimizer.lr=loguniform(0, 1)", "optimizer.lr=uniform(2, 1)",
                          "epochs=int(1.5, 3)", "optimizer.type=choice(sgd)",
                          "optimizer.lr=normal(0, 1)", "optimizer.lr=[]", "=1", "optimizer.lr"}) {
    try {
      parse_search_assignment(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--param"), std::string::npos) << e.what();
    }
  }
}

TEST(SearchSpace, GridIsEveryCombinationFirstKeySlowest) {
  const std::vector<SearchParam> space = {parse_search_assignment("optimizer.lr=[0.1, 0.01]"),
                                          parse_search_assignment("epochs=int(1, 3)")};
  const std::vector<SearchPoint> points = grid_points(space);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0], Json::parse(R"({"optimizer.lr": 0.1, "epochs": 1})"));
  EXPECT_EQ(points[2], Json::parse(R"({"optimizer.lr": 0.1, "epochs": 3})"));
  EXPECT_EQ(points[3], Json::parse(R"({"optimizer.lr": 0.01, "epochs": 1})"));
  EXPECT_THROW(grid_points({parse_search_assignment("optimizer.lr=uniform(0, 1)")}), ConfigError);
}

TEST(SearchSpace, RandomDrawsDependOnTheSeedAndTrialOnly) {
  const std::vector<SearchParam> space = {
      parse_search_assignment("optimizer.lr=loguniform(1e-4, 1e-1)"),
      parse_search_assignment("rate=uniform(0, 0.6)"), parse_search_assignment("n=int(3, 5)"),
      parse_search_assignment("name=[\"a\", \"b\", \"c\"]")};
  EXPECT_EQ(random_point(space, 7, 3), random_point(space, 7, 3));
  EXPECT_NE(random_point(space, 7, 3), random_point(space, 8, 3));
  EXPECT_NE(random_point(space, 7, 3), random_point(space, 7, 4));
  // Every draw in range; loguniform's logarithm uniform (its mean mid-way in log space), the
  // integers and the list values all reached.
  double log_sum = 0.0;
  std::set<std::int64_t> ints;
  std::set<std::string> names;
  const int n = 4000;
  for (int t = 0; t < n; ++t) {
    const SearchPoint p = random_point(space, 1, t);
    const double lr = p["optimizer.lr"].get<double>(), rate = p["rate"].get<double>();
    ASSERT_TRUE(lr >= 1e-4 && lr < 1e-1) << lr;
    ASSERT_TRUE(rate >= 0 && rate < 0.6) << rate;
    log_sum += std::log10(lr);
    ints.insert(p["n"].get<std::int64_t>());
    names.insert(p["name"].get<std::string>());
  }
  EXPECT_NEAR(log_sum / n, -2.5, 0.05);
  EXPECT_EQ(ints, (std::set<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(names.size(), 3u);
}

TEST(SearchSpace, PathsReachObjectMembersAndListItems) {
  Json config = Json::parse(
      R"({"optimizer": {"lr": 0.01}, "model": {"layers": [{"type": "flatten"},
          {"type": "dropout", "rate": 0.5}], "name": "mlp"}})");
  set_config_path(config, "optimizer.lr", 0.1);
  set_config_path(config, "model.layers.1.rate", 0.25);
  EXPECT_EQ(config["optimizer"]["lr"], 0.1);
  EXPECT_EQ(config["model"]["layers"][1]["rate"], 0.25);
  for (const char* typo : {"optimizer.lrr", "model.layers.2.rate", "model.name.x", "epochz"}) {
    try {
      set_config_path(config, typo, 1);
      ADD_FAILURE() << typo << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(typo), std::string::npos) << e.what();
    }
  }
}

TEST(SuccessiveHalving, RungsGrowByEtaUpToTheBudget) {
  EXPECT_EQ(halving_rungs(1, 3, 9), (std::vector<std::int64_t>{1, 3, 9}));
  EXPECT_EQ(halving_rungs(1, 3, 10), (std::vector<std::int64_t>{1, 3, 9, 10}));
  EXPECT_EQ(halving_rungs(2, 2, 6), (std::vector<std::int64_t>{2, 4, 6}));
  EXPECT_EQ(halving_rungs(1, 2, 1), (std::vector<std::int64_t>{1}));
  EXPECT_TRUE(higher_is_better("val_accuracy"));
  EXPECT_FALSE(higher_is_better("val_loss"));
}

}  // namespace
}  // namespace kiln::pipeline
