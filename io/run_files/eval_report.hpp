// The files `kiln evaluate` writes into its report folder, each atomically (io/atomic_file.hpp):
//   confusion.csv    rows: true class, columns: predicted class, cells: image counts
//   confusion.png    the same matrix as a picture, each row coloured by its fraction (recall)
//   per_class.csv    class,precision,recall,support (an empty cell where a ratio is undefined)
//   predictions.csv  one row per image: index,source,label,true_class,predicted,predicted_class,
//                    probability,correct (source: the image path for folder input, else empty)
//   summary.csv      metric,value: the pass's figures, for every task (below)
// Multi-label and regression models (nn/task.hpp) instead:
//   per_class.csv    multi-label: class,average_precision,f1,support
//   predictions.csv  one row per image: index,source, then for each class or value NAME the
//                    target NAME and the model's predicted_NAME (probability or value)
// summary.csv rows: images and views_per_image, then classification: loss, accuracy,
// top<k>_accuracy (k = min(5, classes)), macro_f1; multi-label: threshold, mAP, micro_f1, macro_f1, subset_accuracy;
// regression: MAE, RMSE, R2, mean_baseline_MAE (an empty value where a figure is undefined).
// Class names are quoted when they hold a comma or a quote, as RFC 4180 says.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/metrics.hpp"
#include "nn/target_metrics.hpp"

namespace kiln::io {

struct ImagePrediction {
  std::uint64_t index = 0;  // row in the dataset
  std::string source;       // where the image came from, when known
  std::int32_t label = 0;
  std::int32_t predicted = 0;
  float probability = 0.f;  // of the predicted class
};

// One image of a multi-label or regression evaluation: its targets and the model's scores.
struct ImageScores {
  std::uint64_t index = 0;
  std::string source;
  std::vector<float> targets, scores;
};

// Throws kiln::Error naming the file when it cannot be written.
void write_confusion_csv(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names);
void write_per_class_csv(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names);
void write_predictions_csv(const std::string& path, const std::vector<ImagePrediction>& rows,
                           const std::vector<std::string>& class_names);
void write_multi_label_csv(const std::string& path, const nn::MultiLabelMetrics& metrics,
                           const std::vector<std::string>& class_names);
void write_scores_csv(const std::string& path, const std::vector<ImageScores>& rows,
                      const std::vector<std::string>& names);
// One row per (metric, value) in the order given, under the header "metric,value".
void write_summary_csv(const std::string& path,
                       const std::vector<std::pair<std::string, double>>& figures);
void write_confusion_png(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names);

// "a,b" → "\"a,b\"", "say \"hi\"" → "\"say \"\"hi\"\"\""; other text unchanged.
std::string csv_field(const std::string& text);

}  // namespace kiln::io
