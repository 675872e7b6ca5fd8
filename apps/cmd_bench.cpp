// kiln bench: throughput measurements to compare with the peers in ../shared/bench.
//   kiln bench train --model NAME --batch-size 128 --threads 2  (or --model-file MODEL.h5)
//   kiln bench pipeline DATA --augment '[...]' --batch-size 64 --threads 2
//   mpirun -np 2 kiln bench reduce --megabytes 100
#include <tbb/global_control.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/stage_list.hpp"
#include "apps/shared/validators.hpp"
#include "apps/shared/world.hpp"
#include "io/model_file.hpp"
#include "nn/kernels/machine_limits.hpp"
#include "nn/layers/conv/conv2d.hpp"
#include "nn/model/model.hpp"
#include "nn/model/zoo.hpp"
#include "nn/training/layer_profile.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/throughput.hpp"
#include "pipeline/bench/pipeline_bench.hpp"
#include "pipeline/bench/reduction_bench.hpp"

namespace kiln::apps {
namespace {

struct BenchTrainFlags {
  std::string model = "mnist_cnn";
  std::string model_file;  // a saved kiln model (kiln train, kiln import) instead of a built-in
  std::vector<std::int64_t> input;  // C H W; empty: the model's usual input
  std::int64_t classes = 10;
  float width = 1.f;
  int threads = 2;
  bool profile = false;
  int profile_steps = 10;
  nn::ThroughputOptions options;
};

nn::Shape usual_input(const std::string& model) {
  if (model == "cifar_cnn") return {1, 3, 32, 32};
  return {1, 1, 28, 28};
}

void print_winograd_share(nn::Model& model) {
  std::size_t convs = 0, winograd = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (const auto* conv = dynamic_cast<const nn::Conv2D*>(&model.layer(i))) {
      ++convs;
      if (conv->algorithm() == nn::ConvAlgorithm::kWinograd) ++winograd;
    }
  }
  if (winograd == 0) return;
  std::printf(
      "%zu of %zu conv layers run Winograd F(2x2,3x3), 2.25x fewer multiplications: GFLOP/s "
      "below count the direct convolution's, so they are effective rates\n",
      winograd, convs);
}

// One line of the profile: a layer's (or the total's) time, work and traffic per step, and where
// it stands against the machine's roof: min(peak, intensity × bandwidth).
void print_cost_line(const std::string& name, const std::string& type, const std::string& output,
                     double seconds, double flops, double bytes, const nn::MachineLimits& m) {
  const double gflops = seconds > 0 ? flops / seconds / 1e9 : 0;
  const double intensity = bytes > 0 ? flops / bytes : 0;
  const double roof = std::min(m.fma_gflops, intensity * m.memory_gbytes);
  const char* bound = flops == 0 ? "memory" : intensity < m.balance() ? "memory" : "compute";
  std::printf("%-28s %-12s %-15s %9.3f %9.2f %8.1f %6.1f%% %6.1f%% %9.2f %7.1f  %s\n", name.c_str(),
              type.c_str(), output.c_str(), seconds * 1e3, flops / 1e9, gflops,
              100 * gflops / m.fma_gflops, roof > 0 ? 100 * gflops / roof : 0.0, bytes / 1e6,
              intensity, bound);
}

// `kiln bench train --profile`: per layer, forward and backward apart, against the measured
// FMA peak and memory bandwidth of the threads the run uses.
void print_profile(nn::Model& model, nn::Optimizer& optimizer, const BenchTrainFlags& f) {
  const nn::MachineLimits m = nn::measure_machine_limits(f.threads);
  std::printf(
      "machine (%d threads): FMA peak %.1f GFLOP/s, memory read %.1f GB/s, ridge %.1f FLOP/B\n",
      f.threads, m.fma_gflops, m.memory_gbytes, m.balance());
  const nn::LayerProfile p =
      nn::profile_layers(model, optimizer, f.options.batch, f.options.seed, 3, f.profile_steps);
  std::printf("products: %s; per training step of %lld images, mean of %d steps:\n", p.gemm.c_str(),
              static_cast<long long>(f.options.batch), f.profile_steps);
  std::printf("%-28s %-12s %-15s %9s %9s %8s %7s %7s %9s %7s  %s\n", "layer", "type", "output",
              "ms", "GFLOP", "GFLOP/s", "%peak", "%roof", "MB moved", "FLOP/B", "bound");
  double timed = 0, flops = 0, bytes = 0;
  for (const nn::LayerCost& c : p.layers) {
    const std::string output = std::to_string(c.output.c) + "x" + std::to_string(c.output.h) + "x" +
                               std::to_string(c.output.w);
    print_cost_line(c.name + " fwd", c.type, output, c.forward_seconds, c.forward_flops,
                    c.forward_bytes, m);
    print_cost_line(c.name + " bwd", c.type, output, c.backward_seconds, c.backward_flops,
                    c.backward_bytes, m);
    timed += c.forward_seconds + c.backward_seconds;
    flops += c.forward_flops + c.backward_flops;
    bytes += c.forward_bytes + c.backward_bytes;
  }
  print_cost_line("all layers", "", "", timed, flops, bytes, m);
  std::printf(
      "step %.1f ms (median), %.0f img/s; %.1f ms of it outside the layers (loss, "
      "zeroing gradients, optimizer)\n",
      p.step_seconds * 1e3, static_cast<double>(f.options.batch) / p.step_seconds,
      (p.step_seconds - timed) * 1e3);
}

// The run of `kiln bench train`: the model on synthetic data, its rates and what ran.
void run_bench_train(const BenchTrainFlags& f) {
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism,
                              static_cast<std::size_t>(f.threads));
  nn::Shape input =
      f.input.empty() ? usual_input(f.model) : nn::Shape{1, f.input[0], f.input[1], f.input[2]};
  nn::Model model;
  if (f.model_file.empty()) {
    model = nn::Model::from_config(nn::builtin_model(
        f.model, input, f.classes, f.width != 1.f ? Json{{"width", f.width}} : Json::object()));
    model.initialize(f.options.seed);
  } else {  // its own architecture, input and weights (the weights do not change the speed)
    model = io::load_model(f.model_file).model;
    input = model.input_shape();
  }
  const std::string name = f.model_file.empty() ? f.model : f.model_file;
  const auto optimizer = nn::make_optimizer({{"type", "sgd"}, {"momentum", 0.9}});
  if (f.profile) {
    std::printf("model %s  input (%lld, %lld, %lld)  batch %lld  threads %d\n", name.c_str(),
                static_cast<long long>(input.c), static_cast<long long>(input.h),
                static_cast<long long>(input.w), static_cast<long long>(f.options.batch),
                f.threads);
    print_winograd_share(model);
    print_profile(model, *optimizer, f);
    return;
  }
  const nn::ThroughputReport r = nn::measure_throughput(model, *optimizer, f.options);
  std::printf(
      "model %s  input (%lld, %lld, %lld)  batch %lld  threads %d  %.2f MFLOP forward, %.2f "
      "MFLOP train per image\n",
      name.c_str(), static_cast<long long>(input.c), static_cast<long long>(input.h),
      static_cast<long long>(input.w), static_cast<long long>(f.options.batch), f.threads,
      r.forward_flops / 1e6, r.train_flops / 1e6);
  // Which GEMM runs is part of the figure (a build for another CPU may run a slower one), and
  // the user should see it, not guess it.
  std::printf("products: %s\n", r.gemm.c_str());
  print_winograd_share(model);
  auto line = [](const char* mode, const std::vector<double>& rates, double flops) {
    const auto [lo, hi] = std::minmax_element(rates.begin(), rates.end());
    const double mid = nn::median(rates);
    std::printf("%-6s %9.0f img/s median  (min %.0f, max %.0f, %zu windows)  %6.1f GFLOP/s\n", mode,
                mid, *lo, *hi, rates.size(), mid * flops / 1e9);
  };
  line("train", r.train_images_per_second, r.train_flops);
  line("infer", r.infer_images_per_second, r.forward_flops);
}

void run_bench_pipeline(pipeline::PipelineBenchRequest request, const std::string& augment) {
  if (!augment.empty()) request.stages = parse_stage_list(augment, "--augment");
  // Each epoch's line as it ends (flushed: a long run shows its progress in a pipe or a file).
  const pipeline::PipelineBenchResult r = pipeline::bench_pipeline(
      request, [](std::int64_t epoch, std::int64_t samples, double images_per_second) {
        std::printf("epoch %lld  %lld images  %.0f img/s\n", static_cast<long long>(epoch),
                    static_cast<long long>(samples), images_per_second);
        std::fflush(stdout);
      });
  std::printf("median %.0f img/s  peak in flight %lld of %lld  digest %016llx\n",
              nn::median(r.images_per_second), static_cast<long long>(r.peak_in_flight),
              static_cast<long long>(r.max_in_flight), static_cast<unsigned long long>(r.digest));
}

void add_bench_train(CLI::App* bench) {
  auto flags = std::make_shared<BenchTrainFlags>();
  CLI::App* train =
      bench->add_subcommand("train",
                            "Training step (forward + loss + backward + SGD momentum step) and "
                            "inference images/s of a built-in "
                            "model on synthetic data; median of timed windows, with GFLOP/s.");
  train->add_option("--model", flags->model, "Built-in model")
      ->check(CLI::IsMember(nn::builtin_model_names()))
      ->capture_default_str();
  train
      ->add_option("--input", flags->input,
                   "Input shape C H W (default: 1 28 28; 3 32 32 for cifar_cnn)")
      ->expected(3);
  train
      ->add_option("--model-file", flags->model_file,
                   "A saved kiln model instead (kiln train's or kiln import's): its own layers, "
                   "input and weights")
      ->check(CLI::ExistingFile)
      ->excludes("--model");
  train->add_option("--classes", flags->classes, "Classes of the model's output")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  train
      ->add_option("--width", flags->width,
                   "Channel/unit multiplier of alexnet, vgg16 and the ResNets")
      ->check(CLI::PositiveNumber);
  train
      ->add_option("--batch-size,--batch", flags->options.batch,
                   "Batch size (--batch: the older spelling)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  train->add_option("--threads", flags->threads, "Threads")
      ->check(thread_count(false))
      ->capture_default_str();
  train->add_option("--windows", flags->options.windows, "Timed windows")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  train->add_option("--window-seconds", flags->options.window_seconds, "Length of each window")
      ->check(CLI::Range(0.05, 600.0))
      ->capture_default_str();
  train->add_flag("--profile", flags->profile,
                  "Per layer instead: forward and backward ms, FLOPs, GFLOP/s, % of the "
                  "measured FMA peak, bytes moved, and whether it is compute- or memory-bound");
  train->add_option("--profile-steps", flags->profile_steps, "Timed steps of --profile")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  train->callback([flags] {
    require_one_process("kiln bench train");
    run_bench_train(*flags);
  });
}

void add_bench_pipeline(CLI::App* bench) {
  auto pipe = std::make_shared<pipeline::PipelineBenchRequest>();
  auto augment = std::make_shared<std::string>();
  CLI::App* stream = bench->add_subcommand(
      "pipeline",
      "The streaming pipeline alone (read, augment, normalize, pack, batch) on a kiln dataset: "
      "images/s per epoch and a digest of every batch, identical for any --threads.");
  stream->add_option("data", pipe->data_path, "Dataset (.h5 from kiln preprocess)")
      ->required()
      ->check(existing_file());
  stream->add_option("--augment", *augment,
                     "Training stages as a JSON list (README: Augmentation); default: none");
  stream
      ->add_option("--batch-size,--batch", pipe->batch_size,
                   "Batch size (--batch: the older spelling)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  stream->add_option("--threads", pipe->threads, "Worker threads (0: all cores)")
      ->check(thread_count())
      ->capture_default_str();
  stream->add_option("--epochs", pipe->epochs, "Epochs to stream")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  stream->add_option("--seed", pipe->seed, "Seed of the order and the draws")
      ->capture_default_str();
  stream->add_option("--limit", pipe->limit, "Use the first N samples only (0: all)")
      ->check(CLI::NonNegativeNumber);
  stream->callback([pipe, augment] {
    require_one_process("kiln bench pipeline");
    run_bench_pipeline(*pipe, *augment);
  });
}

struct BenchReduceFlags {
  double megabytes = 100;
  int repeats = 5;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run_bench_reduce(const BenchReduceFlags& flags) {
  nn::Solo solo;
  nn::Communicator& ranks = world() != nullptr ? *world() : solo;
  const auto floats = static_cast<std::int64_t>(flags.megabytes * 1e6 / sizeof(float));
  const pipeline::ReductionBenchResult r =
      pipeline::bench_reduction(ranks, unordered_sum, floats, flags.repeats);
  const double ordered = median(r.ordered_seconds), allreduce = median(r.allreduce_seconds);
  const double bytes = static_cast<double>(floats) * sizeof(float);
  std::printf("sum of a %.0f MB float32 gradient over %d ranks, median of %d (rank 0's clock):\n",
              bytes / 1e6, r.ranks, flags.repeats);
  std::printf("  kiln ordered reduction (all-to-all + all-gather)  %8.4f s  %8.0f MB/s\n", ordered,
              bytes / ordered / 1e6);
  std::printf("  MPI_Allreduce                                     %8.4f s  %8.0f MB/s\n",
              allreduce, bytes / allreduce / 1e6);
  std::printf(
      "ordered / MPI_Allreduce throughput: %.2fx; ordered sum equals the rank-order sum: "
      "%s; largest difference from MPI_Allreduce: %g\n",
      allreduce / ordered, r.ordered_exact ? "yes" : "NO", r.largest_difference);
}

void add_bench_reduce(CLI::App* bench) {
  auto flags = std::make_shared<BenchReduceFlags>();
  CLI::App* reduce = bench->add_subcommand(
      "reduce",
      "Under mpirun: kiln's ordered gradient reduction against MPI_Allreduce on the same "
      "buffer (MB/s = gradient bytes / seconds).");
  reduce->add_option("--megabytes", flags->megabytes, "Gradient size in MB")
      ->check(CLI::Range(0.001, 8000.0))
      ->capture_default_str();
  reduce->add_option("--repeats", flags->repeats, "Timed repeats (the median is printed)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  reduce->callback([flags] { run_bench_reduce(*flags); });
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench =
      app.add_subcommand("bench", "Measure throughput (images/s) to compare with other tools.");
  bench->require_subcommand(1);
  add_bench_train(bench);
  add_bench_pipeline(bench);
  add_bench_reduce(bench);
}

}  // namespace kiln::apps
