#include "io/checkpoint.hpp"

#include "io/model_file.hpp"

namespace kiln::io {

nn::Verdict Checkpoint::on_epoch_end(nn::TrainState& state, const nn::EpochLogs& /*logs*/) {
  save_model(path_, model_, optimizer_, state, preprocessing_, class_names_);
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
