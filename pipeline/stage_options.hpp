// StageOptions: reads a stage's JSON options into the fields of its transform. A key that is
// absent leaves the field's default (the member initializer, written once in the transform's
// struct); a key of the wrong type, or one no read() asked for, is an error naming the stage,
// the key and what is allowed.
//
//   HorizontalFlip HorizontalFlip::from_json(StageOptions& o) {
//     HorizontalFlip t;
//     o.read("p", t.p);
//     t.validate();
//     return t;
//   }
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "nn/json.hpp"

namespace kiln::pipeline {

class StageOptions {
 public:
  // Throws kiln::Error when `options` is not a JSON object.
  StageOptions(std::string_view stage, const Json& options);

  void read(const std::string& key, float& field);
  void read(const std::string& key, int& field);
  void read(const std::string& key, std::string& field);
  // A [lo, hi] pair.
  void read_range(const std::string& key, float& lo, float& hi);
  void read_range(const std::string& key, int& lo, int& hi);
  // The raw value for options with a form of their own (nullptr when absent); the caller checks
  // it and reports through fail().
  const Json* find(const std::string& key);

  [[noreturn]] void fail(const std::string& key, const std::string& want) const;
  // Throws for a key that no read() or find() asked for, listing the ones that were.
  void reject_unknown() const;

 private:
  const Json* lookup(const std::string& key);

  std::string stage_;
  const Json& options_;
  std::set<std::string> asked_;
};

}  // namespace kiln::pipeline
