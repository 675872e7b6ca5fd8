// kiln inspect: what a kiln dataset file holds.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "io/dataset_reader.hpp"

namespace kiln::apps {

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect",
                                     "Print a dataset file's schema, images per class, "
                                     "normalization statistics and skipped inputs.");
  cmd->add_option("file", *path, "Dataset (.h5 from kiln preprocess)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([path] {
    const io::DatasetReader reader(*path);
    std::printf("%s", io::describe_dataset(reader).c_str());
  });
}

}  // namespace kiln::apps
