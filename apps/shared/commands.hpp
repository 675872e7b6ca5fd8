// The kiln subcommands. Each cmd_*.cpp adds one subcommand to the CLI11 app: its flags with help
// text and a callback that calls one library function. No behaviour lives here.
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::apps {

void add_preprocess_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_lr_find_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_augment_preview_command(CLI::App& app);
void add_fit_command(CLI::App& app);
void add_export_command(CLI::App& app);  // built with ONNX (KILN_HAVE_ONNX)
void add_import_command(CLI::App& app);  // ONNX networks with KILN_HAVE_ONNX

}  // namespace kiln::apps
