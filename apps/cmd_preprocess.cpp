// kiln preprocess: raw data → one kiln HDF5 dataset.
// clang-format off
//   a folder                class folders: root/<class>/**/<image>
//   a .txt/.lst/.csv file   list file: "path label" per line, or CSV with "path,label" header;
//                           with --task multi_label or regression, io/target_list.hpp's forms
//   .bin files              CIFAR-10 or CIFAR-100 binary batches (several at once)
//   any other file          an IDX image file (MNIST, Fashion-MNIST; plain or .gz) with --labels
// clang-format on
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "apps/shared/command_line.hpp"
#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "apps/shared/world.hpp"
#include "io/cifar_reader.hpp"
#include "io/dataset_writer.hpp"
#include "io/idx_import.hpp"
#include "io/image_index.hpp"
#include "io/target_list.hpp"
#include "nn/error.hpp"
#include "pipeline/dataset/dataset_builder.hpp"
#include "pipeline/dataset/sharded_build.hpp"

namespace kiln::apps {
namespace {

struct PreprocessFlags {
  std::vector<std::string> inputs;
  std::string input;  // inputs[0]
  int cifar = 10;
  std::string cifar_labels = "fine";
  std::string labels;
  std::string output;
  std::string size;             // "HxW"
  std::int64_t short_side = 0;  // variable size
  std::int64_t max_side = 0;
  std::string store = "raw";  // raw | jpeg[:Q] | png
  int channels = 3;
  std::string on_error = "skip";
  std::int64_t max_pixels = 178956970;
  std::vector<std::string> class_names;
  std::string task = "classification";
  std::vector<std::string> target_columns;
  int compression = 0;
  bool no_checksum = false;
  bool quiet = false;
  double val_split = 0.0;
  std::string val_output;
  std::uint64_t seed = 1;
};

void print_skipped(const std::vector<io::SkippedInput>& skipped, std::int64_t total) {
  if (skipped.empty()) return;
  std::map<std::string, int> by_reason;
  for (const auto& s : skipped) by_reason[s.reason.substr(0, s.reason.find(':'))]++;
  std::fprintf(stderr,
               "kiln preprocess: skipped %zu of %lld inputs (recorded in the file's /skipped):",
               skipped.size(), static_cast<long long>(total));
  for (const auto& [reason, count] : by_reason)
    std::fprintf(stderr, " %d %s;", count, reason.c_str());
  std::fprintf(stderr, "\n");
  for (std::size_t i = 0; i < skipped.size() && i < 10; ++i) {
    std::fprintf(stderr, "  %s: %s\n", skipped[i].path.c_str(), skipped[i].reason.c_str());
  }
  if (skipped.size() > 10)
    std::fprintf(stderr, "  ... and %zu more (kiln inspect lists them all)\n", skipped.size() - 10);
}

void run_images_to(const PreprocessFlags& f, const io::ImageIndex& index, const std::string& output,
                   const std::string& split);

// With --val-split: a stratified split first (io::split_index), then one file per part. Each file
// records its part and the seed in its `split` attributes.
void run_images(const PreprocessFlags& f, const io::ImageIndex& index) {
  if (f.val_split <= 0.0) {
    run_images_to(f, index, f.output, "");
    return;
  }
  std::string val_output = f.val_output;
  if (val_output.empty()) {
    const std::filesystem::path out(f.output);
    val_output =
        (out.parent_path() / (out.stem().string() + "-val" + out.extension().string())).string();
  }
  const io::IndexSplit split = io::split_index(index, f.val_split, f.seed);
  run_images_to(f, split.train, f.output, "train");
  run_images_to(f, split.validation, val_output, "validation");
}

// How images are stored: fixed size (--size) or variable size (--short-side, --max-side, --store).
pipeline::BuildOptions storage_options(const PreprocessFlags& f) {
  pipeline::BuildOptions o;
  const bool variable = f.short_side > 0 || f.max_side > 0 || f.store != "raw";
  if (variable) {
    if (!f.size.empty()) {
      throw ConfigError(
          "--size (fixed size) and --short-side/--max-side/--store (variable size) "
          "exclude each other; choose one storage mode");
    }
    static const std::regex store_pattern(R"((raw|png|jpeg|original)(?::(\d+))?)");
    std::smatch st;
    if (!std::regex_match(f.store, st, store_pattern) ||
        (st[2].matched && st[1] != "jpeg" && st[1] != "original")) {
      throw ConfigError(
          "--store must be raw, png, jpeg[:QUALITY] or original[:QUALITY] (1-100); got " + f.store);
    }
    o.encoding = st[1];
    if (st[2].matched) o.jpeg_quality = std::stoi(st[2]);
    o.short_side = f.short_side;
    o.max_side = f.max_side;
    return o;
  }
  if (f.size.empty()) {
    throw ConfigError(
        "image inputs need a storage size: --size HxW (fixed, e.g. --size 224x224) or "
        "--short-side S (variable, e.g. --short-side 256 --store jpeg)");
  }
  static const std::regex size_pattern(R"((\d+)x(\d+))");
  std::smatch m;
  if (!std::regex_match(f.size, m, size_pattern)) {
    throw ConfigError("--size must be HxW, e.g. 224x224; got " + f.size);
  }
  o.height = std::stoll(m[1]);
  o.width = std::stoll(m[2]);
  return o;
}

// Progress on stderr: redrawn in place on a terminal, a line every 5 s otherwise.
std::function<void(std::int64_t, std::int64_t)> progress_printer(bool quiet) {
  const auto start = std::chrono::steady_clock::now();
  const bool terminal = isatty(STDERR_FILENO) != 0;
  return [quiet, start, terminal, last = start](std::int64_t done, std::int64_t total) mutable {
    const auto now = std::chrono::steady_clock::now();
    if (quiet || (done < total && now - last < std::chrono::seconds(terminal ? 0 : 5))) return;
    last = now;
    const double seconds = std::chrono::duration<double>(now - start).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    std::fprintf(stderr, "%spreprocess: %lld/%lld images, %.0f img/s, ETA %.0f s%s",
                 terminal ? "\r" : "", static_cast<long long>(done), static_cast<long long>(total),
                 rate, rate > 0 ? static_cast<double>(total - done) / rate : 0.0,
                 terminal && done < total ? "" : "\n");
    std::fflush(stderr);
  };
}

void print_written(const pipeline::BuildOptions& o, const PreprocessFlags& f,
                   const pipeline::BuildSummary& s, std::size_t classes) {
  if (o.encoding.empty()) {
    std::printf("wrote %s: %lld images of %lldx%lldx%d, %zu classes\n", o.output_path.c_str(),
                static_cast<long long>(s.written), static_cast<long long>(o.height),
                static_cast<long long>(o.width), o.channels, classes);
    return;
  }
  std::string sizing = o.short_side > 0 ? "short side " + std::to_string(o.short_side) : "";
  if (o.max_side > 0)
    sizing += (sizing.empty() ? "" : ", ") + ("long side <= " + std::to_string(o.max_side));
  if (sizing.empty()) sizing = "original size";
  std::printf(
      "wrote %s: %lld images of variable size (%s), %d channel(s) stored as %s, %zu classes\n",
      o.output_path.c_str(), static_cast<long long>(s.written), sizing.c_str(), o.channels,
      f.store.c_str(), classes);
}

void run_images_to(const PreprocessFlags& f, const io::ImageIndex& index, const std::string& output,
                   const std::string& split) {
  pipeline::BuildOptions o = storage_options(f);
  o.output_path = output;
  if (!split.empty()) {
    o.split = split + " (--val-split " + std::to_string(f.val_split) + " --seed " +
              std::to_string(f.seed) + ")";
  }
  o.channels = f.channels;
  o.max_pixels = f.max_pixels;
  o.on_error = f.on_error == "fail" ? pipeline::OnError::kFail : pipeline::OnError::kSkip;
  o.gzip_level = f.compression;
  o.checksum = !f.no_checksum;
  o.source = std::filesystem::weakly_canonical(f.input).string();
  o.command_line = command_line();
  const bool speaks = world_rank() == 0;  // under mpirun, rank 0 alone reports
  for (const auto& w : index.warnings) {
    if (speaks) {
      std::fprintf(stderr, "kiln preprocess: warning: %s: %s\n", w.path.c_str(), w.reason.c_str());
    }
  }
  if (index.ignored_files > 0 && !f.quiet && speaks) {
    std::fprintf(stderr, "kiln preprocess: ignored %lld files without an image extension\n",
                 static_cast<long long>(index.ignored_files));
  }
  const pipeline::BuildSummary s =
      world_size() > 1
          ? pipeline::build_dataset_sharded(index, o, *world(), progress_printer(f.quiet))
          : pipeline::build_dataset(index, o, progress_printer(f.quiet));
  if (!speaks) return;
  print_skipped(s.skipped, static_cast<std::int64_t>(index.paths.size()));
  print_written(o, f, s, index.class_names.size());
}

void run_cifar(const PreprocessFlags& f) {
  const io::CifarKind kind = f.cifar == 10                ? io::CifarKind::kCifar10
                             : f.cifar_labels == "coarse" ? io::CifarKind::kCifar100Coarse
                                                          : io::CifarKind::kCifar100Fine;
  const io::CifarData data = io::read_cifar(f.inputs, kind);
  io::DatasetSpec spec;
  spec.height = 32;
  spec.width = 32;
  spec.channels = 3;
  spec.class_names = f.class_names.empty() ? data.class_names : f.class_names;
  spec.source = std::filesystem::weakly_canonical(f.input).string();
  spec.command_line = command_line();
  spec.gzip_level = f.compression;
  spec.checksum = !f.no_checksum;
  io::DatasetWriter writer(f.output, spec);
  writer.append(data.images, data.labels);
  writer.commit();
  std::printf("wrote %s: %zu images of 32x32x3, %zu classes\n", f.output.c_str(),
              data.labels.size(), spec.class_names.size());
}

void run_idx(const PreprocessFlags& f) {
  if (f.val_split > 0.0) {
    throw ConfigError(
        "--val-split works on class folders and list files; split IDX/CIFAR data by file");
  }
  if (f.labels.empty()) {
    throw ConfigError(f.input +
                      ": an IDX image file needs its label file: --labels FILE (or pass a folder "
                      "of class folders, or a .txt/.lst/.csv list file)");
  }
  const io::ImportSummary s = io::import_idx(
      {f.input, f.labels, f.output, f.class_names, command_line(), f.compression, !f.no_checksum});
  std::printf("wrote %s: %lld images of %lldx%lldx%lld, %lld classes\n", f.output.c_str(),
              static_cast<long long>(s.images), static_cast<long long>(s.height),
              static_cast<long long>(s.width), static_cast<long long>(s.channels),
              static_cast<long long>(s.classes));
}

// Dispatches on the input's kind: CIFAR batches, a folder, a list file, or an IDX file.
void run_preprocess(PreprocessFlags& f) {
  namespace fs = std::filesystem;
  f.input = f.inputs.front();
  const bool all_bin = std::all_of(f.inputs.begin(), f.inputs.end(), [](const std::string& p) {
    return fs::path(p).extension() == ".bin";
  });
  // CIFAR and IDX inputs are copied, not decoded: one rank does it, the others have nothing to add.
  const bool copies = all_bin || (!fs::is_directory(f.input) &&
                                  !std::set<std::string>{".txt", ".csv", ".lst"}.count(
                                      fs::path(f.input).extension().string()));
  if (copies && world_rank() != 0) return;
  if (all_bin) return run_cifar(f);
  if (f.inputs.size() > 1) {
    throw ConfigError(
        "several inputs are only for CIFAR .bin batches; pass one folder, list file or IDX file");
  }
  const nn::Task task = nn::task_from_name(f.task);
  const std::string ext = fs::path(f.input).extension().string();
  const bool list = ext == ".txt" || ext == ".csv" || ext == ".lst";
  if (task != nn::Task::kClassification) {
    if (!list) {
      throw ConfigError(f.input + ": --task " + f.task +
                        " reads its targets from a list file (.csv, or .txt/.lst for "
                        "multi_label); folders, IDX and CIFAR inputs are classification");
    }
    return run_images(f, io::index_target_list(f.input, {task, f.target_columns}, f.class_names));
  }
  if (!f.target_columns.empty()) {
    throw ConfigError("--target-columns is for --task multi_label or regression");
  }
  if (fs::is_directory(f.input)) return run_images(f, io::index_class_folders(f.input));
  if (list) return run_images(f, io::index_list_file(f.input, f.class_names));
  run_idx(f);
}

// Image inputs only: how they are sized and stored, what to do with bad ones, the split.
void add_image_flags(CLI::App* cmd, PreprocessFlags& f) {
  cmd->add_option("--size", f.size,
                  "Stored image size HxW: resize the short side, crop the centre (image inputs)");
  cmd->add_option("--short-side", f.short_side,
                  "Variable size: resize so the short side is S, aspect ratio kept (image inputs)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--max-side", f.max_side,
                  "Variable size: and so the long side is at most M (image inputs)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--store", f.store,
                  "Variable size: store raw pixels, jpeg[:QUALITY] (default 90), png, or original "
                  "(files that need no resize kept byte for byte, others as jpeg[:QUALITY])")
      ->capture_default_str();
  cmd->add_option("--channels", f.channels, "1 (grey) or 3 (RGB) stored channels (image inputs)")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  cmd->add_option("--on-error", f.on_error,
                  "skip: record bad inputs and go on; fail: stop at the first one")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  cmd->add_option("--max-pixels", f.max_pixels,
                  "Refuse images with more pixels (decompression-bomb guard)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--class-names", f.class_names,
                  "Class names in label order, comma separated (IDX, list files)")
      ->delimiter(',');
  cmd->add_option("--task", f.task,
                  "What each image's target is: classification (one class), multi_label (a set "
                  "of classes) or regression (values); the last two read list files")
      ->check(CLI::IsMember(nn::task_names()))
      ->capture_default_str();
  cmd->add_option("--target-columns", f.target_columns,
                  "CSV columns holding the targets, comma separated: multi_label's 0/1 class "
                  "columns or regression's values (default: every column but path)")
      ->delimiter(',');
  cmd->add_option("--compression", f.compression,
                  "gzip level 0-9 for the stored images (0: none, fastest to read)")
      ->check(CLI::Range(0, 9));
  cmd->add_flag("--no-checksum", f.no_checksum,
                "Store no Fletcher-32 checksums (by default a damaged chunk fails its read "
                "instead of giving altered pixels)");
  cmd->add_flag("--quiet", f.quiet, "No progress or summary lines");
  cmd->add_option(
         "--val-split", f.val_split,
         "Hold out this fraction of every class as a validation set (image inputs), e.g. 0.2")
      ->check(CLI::Range(0.0, io::kMaxValidationFraction));
  cmd->add_option("--val-output", f.val_output,
                  "Validation dataset to write (default: OUTPUT with -val before .h5)");
  cmd->add_option("--seed", f.seed, "Seed of the validation split: same seed, same split")
      ->capture_default_str();
}

}  // namespace

void add_preprocess_command(CLI::App& app) {
  auto f = std::make_shared<PreprocessFlags>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess",
      "Convert a dataset into one kiln HDF5 file, fitting the normalization statistics on the way. "
      "INPUT is a folder of class folders, a list file (.txt or .lst: 'path label' lines; .csv: "
      "'path,label' header), CIFAR-10/100 .bin batch files (several at once), or an IDX image "
      "file (MNIST, Fashion-MNIST; plain or .gz) with --labels.");
  cmd->add_option("input", f->inputs,
                  "Class-folder root, list file, IDX image file, or CIFAR .bin batch files "
                  "(several allowed)")
      ->required()
      ->check(existing_path());
  cmd->add_option("--cifar", f->cifar, "CIFAR binary flavour of .bin inputs: 10 or 100")
      ->check(CLI::IsMember({10, 100}))
      ->capture_default_str();
  cmd->add_option("--cifar-labels", f->cifar_labels,
                  "CIFAR-100 labels: fine (100 classes) or coarse (20)")
      ->check(CLI::IsMember({"fine", "coarse"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", f->output, "HDF5 dataset to write (replaced atomically)")
      ->required();
  cmd->add_option("--labels", f->labels, "IDX label file belonging to the IDX images")
      ->check(existing_file());
  add_image_flags(cmd, *f);
  cmd->callback([f] { run_preprocess(*f); });
}

}  // namespace kiln::apps
