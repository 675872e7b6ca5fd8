// The README documents everything the registries and the config table hold: every training config
// key, every stage and every layer type. A unit registered without its line in the README fails
// here, naming it.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "nn/layers/registry.hpp"
#include "nn/model/blocks.hpp"
#include "pipeline/training/train_config.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

std::string readme() {
  std::ifstream in(std::string(KILN_TEST_SOURCE_DIR) + "/../README.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A table row documents `key` as `key` itself or inside a group such as `parent.{a, key, b}`.
bool documents_key(const std::string& text, const std::string& key) {
  if (text.find("`" + key + "`") != std::string::npos) return true;
  const auto dot = key.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string parent = key.substr(0, dot), leaf = key.substr(dot + 1);
  const std::regex group("`" + std::regex_replace(parent, std::regex(R"(\.)"), R"(\.)") +
                         R"(\.\{([^}]*)\}`)");
  for (std::sregex_iterator it(text.begin(), text.end(), group), end; it != end; ++it) {
    std::stringstream leaves((*it)[1].str());
    for (std::string item; std::getline(leaves, item, ',');) {
      item.erase(0, item.find_first_not_of(' '));
      if (item == leaf) return true;
    }
  }
  return false;
}

TEST(Readme, DocumentsEveryTrainingConfigKey) {
  const std::string text = readme();
  ASSERT_FALSE(text.empty());
  for (const ConfigKey& k : train_config_keys()) {
    EXPECT_TRUE(documents_key(text, k.key)) << "README: no row for config key " << k.key;
  }
}

TEST(Readme, DocumentsEveryStageAndLayerType) {
  const std::string text = readme();
  for (const StageInfo& s : stage_infos()) {
    EXPECT_NE(text.find("`" + std::string(s.name) + "`"), std::string::npos)
        << "README: stage " << s.name << " is not documented";
  }
  for (const nn::LayerInfo& l : nn::layer_infos()) {
    EXPECT_NE(text.find("`" + std::string(l.type) + "`"), std::string::npos)
        << "README: layer " << l.type << " is not documented";
  }
  for (const std::string& block : nn::block_types()) {
    EXPECT_NE(text.find("`" + block + "`"), std::string::npos)
        << "README: block " << block << " is not documented";
  }
}

TEST(Readme, KeyGroupsAreRecognised) {
  const std::string text = "| `callbacks.reduce_lr.{enabled, factor}` |";
  EXPECT_TRUE(documents_key(text, "callbacks.reduce_lr.factor"));
  EXPECT_FALSE(documents_key(text, "callbacks.reduce_lr.patience"));
  EXPECT_FALSE(documents_key(text, "callbacks.early_stopping.factor"));
}

}  // namespace
}  // namespace kiln::pipeline
