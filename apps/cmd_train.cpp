// kiln train: a kiln HDF5 dataset → a trained model file.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "apps/validators.hpp"
#include "nn/error.hpp"
#include "nn/optimizer.hpp"
#include "nn/zoo.hpp"
#include "pipeline/training.hpp"

namespace kiln::apps {

void add_train_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::TrainRequest>();
  auto flip = std::make_shared<float>(0.f);
  auto width = std::make_shared<float>(1.f);
  auto augment = std::make_shared<std::string>();
  struct OptimizerFlags {
    std::string type = "sgd";
    float momentum = 0.9f;
    bool nesterov = false;
    float weight_decay = 0.01f;
    float clip_norm = 0.f;
  };
  auto opt = std::make_shared<OptimizerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a model on a kiln HDF5 dataset with streaming augmentation; write a model file.");
  cmd->add_option("data", request->train_path, "Training dataset (.h5 from kiln preprocess)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", request->output_path, "Model file to write (replaced atomically)")
      ->required();
  cmd->add_option("--validation", request->validation_path,
                  "Dataset evaluated after every epoch (never augmented, never trained on)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--model", request->model, "Built-in model")
      ->check(CLI::IsMember(nn::builtin_model_names()))
      ->capture_default_str();
  cmd->add_option("--width", *width,
                  "Channel/unit multiplier of alexnet and vgg16 (e.g. 0.25 for small images)")
      ->check(positive_number());
  cmd->add_option("--epochs", request->epochs, "Passes over the training data")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", request->batch_size, "Samples per optimizer step")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--optimizer", opt->type, "sgd, adagrad, rmsprop, adam or adamw")
      ->check(CLI::IsMember(nn::optimizer_types()))
      ->capture_default_str();
  cmd->add_option("--lr", request->learning_rate, "Learning rate")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--momentum", opt->momentum, "SGD momentum in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  cmd->add_flag("--nesterov", opt->nesterov, "Use Nesterov momentum (SGD)");
  cmd->add_option("--weight-decay", opt->weight_decay, "AdamW's decoupled weight decay")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--clip-norm", opt->clip_norm,
                  "Rescale the gradients when their global L2 norm exceeds this (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option(
      "--augment", *augment,
      "Training augmentation stages as a JSON list, applied in order, e.g. "
      "'[{\"type\": \"pad_crop\", \"padding\": 4}, {\"type\": \"color_jitter\"}]'; "
      "stages: horizontal_flip, vertical_flip, pad_crop, color_jitter (README: Augmentation)");
  cmd->add_option("--flip", *flip,
                  "Probability of a random horizontal flip per training sample (after --augment)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", request->seed,
                  "Seed of every random choice (initialization, order, augmentation); same seed, "
                  "same model")
      ->capture_default_str();
  cmd->add_option("--threads", request->threads, "Worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--lr-schedule", request->lr_schedule,
                  "constant, step:K:F, exponential:D, cosine[:MIN] or piecewise:0=R0,E1=R1,..., "
                  "optionally +warmup:W (README: Training)")
      ->capture_default_str();
  cmd->add_option("--early-stopping", request->early_stopping_patience,
                  "Stop after this many epochs without improvement of --monitor (-1: off)")
      ->check(CLI::Range(static_cast<std::int64_t>(-1), static_cast<std::int64_t>(1) << 30));
  cmd->add_flag("--restore-best", request->restore_best_weights,
                "With --early-stopping: keep the weights of the best epoch, not the last");
  cmd->add_option("--reduce-lr", request->reduce_lr_patience,
                  "Multiply the rate by 0.1 after this many epochs without improvement (-1: off)")
      ->check(CLI::Range(static_cast<std::int64_t>(-1), static_cast<std::int64_t>(1) << 30));
  cmd->add_option("--monitor", request->monitor,
                  "Metric watched by --early-stopping and --reduce-lr (default: val_loss with "
                  "--validation, else loss)");
  cmd->add_option("--checkpoint", request->checkpoint_path,
                  "Save the whole training state here after every epoch (atomically)");
  cmd->add_option(
         "--resume", request->resume_path,
         "Continue from a --checkpoint file up to --epochs: same weights, optimizer state, data "
         "order and augmentation as if never interrupted")
      ->check(CLI::ExistingFile);
  cmd->add_option("--log-csv", request->csv_log,
                  "Write one CSV row per epoch (loss, accuracy, val_*, rate, seconds)");
  cmd->add_option("--limit", request->limit, "Train on the first N samples only (0: all)")
      ->check(CLI::NonNegativeNumber);

  cmd->callback([request, flip, opt, width, augment] {
    if (*width != 1.f) request->model_options = {{"width", *width}};
    request->optimizer = {{"type", opt->type}, {"clip_norm", opt->clip_norm}};
    if (opt->type == "sgd") {
      request->optimizer["momentum"] = opt->momentum;
      request->optimizer["nesterov"] = opt->nesterov;
    }
    if (opt->type == "adamw") request->optimizer["weight_decay"] = opt->weight_decay;
    request->train_stages = Json::array();
    if (!augment->empty()) {
      try {
        request->train_stages = Json::parse(*augment);
      } catch (const Json::exception& e) {
        throw Error(std::string("--augment is not valid JSON (") + e.what() +
                    "); expected a list such as '[{\"type\": \"pad_crop\"}]'");
      }
    }
    if (*flip > 0.f) {
      if (!request->train_stages.is_array()) throw Error("--augment must be a JSON list of stages");
      request->train_stages.push_back({{"type", "horizontal_flip"}, {"p", *flip}});
    }
    pipeline::TrainObserver observer;
    observer.on_start = [](const std::string& summary) { std::printf("%s", summary.c_str()); };
    observer.on_epoch = [](const pipeline::EpochReport& r) {
      std::printf("epoch %lld/%lld  loss %.4f  acc %.4f", static_cast<long long>(r.train.epoch),
                  static_cast<long long>(r.epochs), r.train.loss, r.train.accuracy);
      if (r.validation)
        std::printf("  val_loss %.4f  val_acc %.4f", r.validation->loss, r.validation->accuracy);
      std::printf(
          "  %.1f s  %.0f img/s\n", r.train.seconds,
          r.train.seconds > 0 ? static_cast<double>(r.train.samples) / r.train.seconds : 0.0);
      std::fflush(stdout);
    };
    pipeline::train_model(*request, observer);
    std::printf("wrote %s\n", request->output_path.c_str());
  });
}

}  // namespace kiln::apps
