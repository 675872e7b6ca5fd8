// kiln preprocess: raw dataset files → one kiln HDF5 dataset.
#include <cstdio>
#include <memory>

#include "apps/command_line.hpp"
#include "apps/commands.hpp"
#include "io/idx_import.hpp"

namespace kiln::apps {

void add_preprocess_command(CLI::App& app) {
  auto request = std::make_shared<io::IdxImport>();
  CLI::App* cmd =
      app.add_subcommand("preprocess",
                         "Convert an IDX image file (MNIST, Fashion-MNIST; plain or .gz) and its "
                         "label file into a kiln "
                         "HDF5 dataset, fitting per-channel normalization statistics on the way.");
  cmd->add_option("images", request->images_path,
                  "IDX image file (e.g. train-images-idx3-ubyte.gz)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--labels", request->labels_path, "IDX label file belonging to the images")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", request->output_path,
                  "HDF5 dataset to write (replaced atomically)")
      ->required();
  cmd->add_option("--class-names", request->class_names,
                  "Class names in label order, comma separated (default: 0, 1, ...)")
      ->delimiter(',');
  cmd->add_option("--compression", request->gzip_level,
                  "gzip level 0-9 for the stored images (0: none, fastest to read)")
      ->check(CLI::Range(0, 9));
  cmd->callback([request] {
    request->command_line = command_line();
    const io::ImportSummary s = io::import_idx(*request);
    std::printf("wrote %s: %lld images of %lldx%lldx%lld, %lld classes\n",
                request->output_path.c_str(), static_cast<long long>(s.images),
                static_cast<long long>(s.height), static_cast<long long>(s.width),
                static_cast<long long>(s.channels), static_cast<long long>(s.classes));
  });
}

}  // namespace kiln::apps
