// The files of a run directory (`kiln train --run-dir`, each trial of `kiln search`), named in one
// place: training writes them, resume and search read them back, `kiln report` finds runs by them.
#pragma once

#include <filesystem>
#include <string>

namespace kiln::io {

class RunDirectory {
 public:
  explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::string config() const { return file("config.json"); }  // the effective config: resume
  std::string model() const { return file("model.h5"); }      // the final model
  std::string checkpoint() const { return file("checkpoint.h5"); }
  std::string best_model() const { return file("best.h5"); }           // callbacks.save_best
  std::string log() const { return file("log.csv"); }                  // one row per epoch
  std::string cross_validation() const { return file("cv.csv"); }      // one row per fold
  std::string diagnostics() const { return file("diagnostics.csv"); }  // training.diagnostics
  std::string diagnostics_plot() const { return file("diagnostics.png"); }

  // Whether `root` holds a run, finished or not: its log or its config.
  bool holds_a_run() const {
    return std::filesystem::exists(log()) || std::filesystem::exists(config());
  }

 private:
  std::string file(const char* name) const { return (root_ / name).string(); }

  std::filesystem::path root_;
};

}  // namespace kiln::io
