#include "pipeline/transforms/fill_mode.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {

FillMode parse_fill_mode(const std::string& name, const std::string& owner) {
  if (name == "constant") return FillMode::kConstant;
  if (name == "nearest") return FillMode::kNearest;
  if (name == "reflect") return FillMode::kReflect;
  if (name == "wrap") return FillMode::kWrap;
  throw Error(owner + ": fill_mode must be constant, nearest, reflect or wrap, got '" + name + "'");
}

std::string fill_mode_name(FillMode mode) {
  switch (mode) {
    case FillMode::kConstant:
      return "constant";
    case FillMode::kNearest:
      return "nearest";
    case FillMode::kReflect:
      return "reflect";
    case FillMode::kWrap:
      return "wrap";
  }
  return "constant";
}

void read_fill(StageOptions& options, FillMode& mode, int& fill, const std::string& owner) {
  std::string name = fill_mode_name(mode);
  options.read("fill_mode", name);
  mode = parse_fill_mode(name, owner);
  options.read("fill", fill);
}

int border_type(FillMode mode) {
  switch (mode) {
    case FillMode::kConstant:
      return cv::BORDER_CONSTANT;
    case FillMode::kNearest:
      return cv::BORDER_REPLICATE;
    case FillMode::kReflect:
      return cv::BORDER_REFLECT;
    case FillMode::kWrap:
      return cv::BORDER_WRAP;
  }
  return cv::BORDER_CONSTANT;
}

}  // namespace kiln::pipeline
