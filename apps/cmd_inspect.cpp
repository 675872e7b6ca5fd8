// kiln inspect: what a kiln dataset or model file holds.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "apps/validators.hpp"
#include "io/dataset_reader.hpp"
#include "io/file_format.hpp"
#include "io/model_file.hpp"

namespace kiln::apps {

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect",
                                     "Print a dataset file's schema, images per class, "
                                     "normalization statistics and skipped inputs; or a model "
                                     "file's layers, training state and preprocessing.");
  cmd->add_option("file", *path, "Dataset (from kiln preprocess) or model (from kiln train)")
      ->required()
      ->check(existing_file());
  cmd->callback([path] {
    if (io::file_format_of(*path) == "kiln-model") {
      std::printf("%s", io::describe_model(*path).c_str());
      return;
    }
    const io::DatasetReader reader(*path);  // names what is wrong with anything else
    std::printf("%s", io::describe_dataset(reader).c_str());
  });
}

}  // namespace kiln::apps
