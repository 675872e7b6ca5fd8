// Task: what a sample's target is and so what the model's outputs mean.
//   classification  one class per sample (int32 label); outputs are logits of a softmax
//   multi_label     any set of the K classes per sample (a 0/1 row); outputs are K independent
//                   logits of a sigmoid each, a class predicted when its probability passes a
//                   threshold
//   regression      D real values per sample; outputs are the values themselves
// The dataset file records its task; a model records the task it was trained for, so evaluate
// and predict read the outputs the way training meant them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::nn {

enum class Task { kClassification, kMultiLabel, kRegression };

std::string_view task_name(Task task);
// Throws kiln::Error listing the task names.
Task task_from_name(std::string_view name);
std::vector<std::string> task_names();

// The loss a task trains with unless the config names another.
std::string_view default_loss(Task task);

// The probability (or value) of each output row in place: softmax per row for classification,
// a sigmoid per output for multi_label, unchanged for regression. rows × width values.
void output_to_scores(Task task, float* outputs, std::int64_t rows, std::int64_t width);

}  // namespace kiln::nn
