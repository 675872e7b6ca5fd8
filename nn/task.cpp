#include "nn/task.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::nn {

std::string_view task_name(Task task) {
  switch (task) {
    case Task::kMultiLabel:
      return "multi_label";
    case Task::kRegression:
      return "regression";
    case Task::kClassification:
      break;
  }
  return "classification";
}

std::vector<std::string> task_names() { return {"classification", "multi_label", "regression"}; }

Task task_from_name(std::string_view name) {
  for (const Task t : {Task::kClassification, Task::kMultiLabel, Task::kRegression}) {
    if (task_name(t) == name) return t;
  }
  throw Error("unknown task '" + std::string(name) +
              "'; known tasks: classification, multi_label, regression");
}

std::string_view default_loss(Task task) {
  switch (task) {
    case Task::kMultiLabel:
      return "sigmoid_binary_cross_entropy";
    case Task::kRegression:
      return "mean_squared_error";
    case Task::kClassification:
      break;
  }
  return "softmax_cross_entropy";
}

void output_to_scores(Task task, float* outputs, std::int64_t rows, std::int64_t width) {
  if (task == Task::kRegression) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* z = outputs + r * width;
    if (task == Task::kMultiLabel) {
      for (std::int64_t c = 0; c < width; ++c)
        z[c] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(z[c]))));
      continue;
    }
    const float z_max = *std::max_element(z, z + width);
    double sum = 0.0;
    for (std::int64_t c = 0; c < width; ++c) sum += std::exp(static_cast<double>(z[c] - z_max));
    for (std::int64_t c = 0; c < width; ++c)
      z[c] = static_cast<float>(std::exp(static_cast<double>(z[c] - z_max)) / sum);
  }
}

}  // namespace kiln::nn
