#include "io/target_list.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "io/run_files/csv_log.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace fs = std::filesystem;

namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> split_names(const std::string& field) {
  std::vector<std::string> names;
  std::string name;
  for (const char c : field + " ") {
    if (c == ' ' || c == '\t' || c == ';' || c == '|' || c == ',') {
      if (!name.empty()) names.push_back(name);
      name.clear();
    } else {
      name += c;
    }
  }
  return names;
}

// One data row of the list: its path (resolved), its line, and its target fields.
struct TargetRow {
  std::string path;
  std::size_t line = 0;
  std::vector<std::string> fields;  // the chosen columns, or one field of names
};

// The rows of the list and the names of the chosen columns (empty when the targets are one field
// of class names).
struct TargetTable {
  std::vector<TargetRow> rows;
  std::vector<std::string> columns;
};

std::size_t column_of(const std::vector<std::string>& header, const std::string& name,
                      const std::string& where) {
  const auto at = std::find(header.begin(), header.end(), name);
  if (at == header.end()) {
    std::string known;
    for (const auto& h : header) known += (known.empty() ? "" : ", ") + h;
    throw Error(where + ": the header has no column \"" + name + "\" (it has " + known + ")");
  }
  return static_cast<std::size_t>(at - header.begin());
}

// The columns a CSV's targets are read from (indices into its header), and their names.
std::vector<std::size_t> target_columns(const std::vector<std::string>& header,
                                        const TargetColumns& targets, const std::string& where,
                                        bool& names_field) {
  names_field = false;
  std::vector<std::size_t> chosen;
  if (!targets.columns.empty()) {
    for (const auto& name : targets.columns) chosen.push_back(column_of(header, name, where));
    return chosen;
  }
  const bool has_labels = std::find(header.begin(), header.end(), "labels") != header.end();
  if (targets.task == nn::Task::kMultiLabel && has_labels) {
    names_field = true;
    return {column_of(header, "labels", where)};
  }
  for (std::size_t c = 0; c < header.size(); ++c)
    if (header[c] != "path") chosen.push_back(c);
  if (chosen.empty()) {
    throw Error(where + ": the header names no " +
                std::string(targets.task == nn::Task::kRegression ? "value" : "class") +
                " column beside \"path\"");
  }
  return chosen;
}

TargetTable read_target_rows(const std::string& list_path, const TargetColumns& targets,
                             bool& names_field) {
  std::ifstream in(list_path);
  if (!in) throw Error(list_path + ": cannot open the list file");
  const fs::path base = fs::path(list_path).parent_path();
  std::string extension = fs::path(list_path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool csv = extension == ".csv";
  if (!csv && targets.task == nn::Task::kRegression) {
    throw Error(list_path +
                ": regression values come from a CSV list with a header (path,NAME,...); "
                "name the file .csv");
  }
  TargetTable table;
  names_field = !csv;
  std::vector<std::string> header;
  std::vector<std::size_t> chosen;
  std::size_t path_column = 0;
  std::string line;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) {
    const std::string text = trimmed(line);
    if (text.empty() || text[0] == '#') continue;
    const std::string where = list_path + ":" + std::to_string(line_number);
    TargetRow row;
    row.line = line_number;
    if (!csv) {
      const auto split = text.find_last_of(" \t");
      if (split == std::string::npos) {
        throw Error(where + ": expected \"path name,name,...\", got \"" + text + "\"");
      }
      row.path = trimmed(text.substr(0, split));
      row.fields = {text.substr(split + 1)};
    } else if (header.empty()) {
      header = split_csv_line(text);
      path_column = column_of(header, "path", where);
      chosen = target_columns(header, targets, where, names_field);
      if (!names_field) {
        for (const std::size_t c : chosen) table.columns.push_back(header[c]);
      }
      continue;
    } else {
      const std::vector<std::string> fields = split_csv_line(text);
      if (fields.size() != header.size()) {
        throw Error(where + ": " + std::to_string(fields.size()) + " fields, but the header has " +
                    std::to_string(header.size()) + " columns");
      }
      row.path = fields[path_column];
      for (const std::size_t c : chosen) row.fields.push_back(fields[c]);
    }
    fs::path p = row.path;
    if (p.is_relative()) p = base / p;
    row.path = p.string();
    table.rows.push_back(std::move(row));
  }
  if (table.rows.empty()) throw Error(list_path + ": the list holds no images");
  return table;
}

// Multi-label rows given as one field of names.
void assign_names(const TargetTable& table, const std::string& list_path, ImageIndex& index) {
  const bool names_given = !index.class_names.empty();
  if (!names_given) {
    std::set<std::string> found;
    for (const TargetRow& row : table.rows)
      for (const auto& name : split_names(row.fields[0])) found.insert(name);
    if (found.empty()) throw Error(list_path + ": no row names a class");
    index.class_names.assign(found.begin(), found.end());
  }
  std::map<std::string, std::size_t> by_name;
  for (std::size_t c = 0; c < index.class_names.size(); ++c) by_name[index.class_names[c]] = c;
  const std::size_t width = index.class_names.size();
  for (const TargetRow& row : table.rows) {
    std::vector<float> present(width, 0.f);
    for (const auto& name : split_names(row.fields[0])) {
      const auto at = by_name.find(name);
      if (at == by_name.end()) {
        throw Error(list_path + ":" + std::to_string(row.line) + ": class \"" + name +
                    "\" is not one of the given class names (--class-names)");
      }
      present[at->second] = 1.f;
    }
    index.targets.insert(index.targets.end(), present.begin(), present.end());
  }
}

// Rows given as one column per class (0/1) or per value.
void assign_columns(const TargetTable& table, const std::string& list_path, ImageIndex& index) {
  const bool multi_label = index.task == nn::Task::kMultiLabel;
  if (multi_label && !index.class_names.empty() && index.class_names != table.columns) {
    throw Error(list_path + ": its class columns differ from the given class names " +
                "(--class-names); name the columns after the classes, in the same order");
  }
  index.class_names = table.columns;
  for (const TargetRow& row : table.rows) {
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      const std::string& cell = row.fields[c];
      const std::string where = list_path + ":" + std::to_string(row.line) + ": column \"" +
                                table.columns[c] + "\" is \"" + cell + "\"";
      if (multi_label) {
        if (cell != "0" && cell != "1") throw Error(where + "; class columns hold 0 or 1");
        index.targets.push_back(cell == "1" ? 1.f : 0.f);
        continue;
      }
      char* end = nullptr;
      const float value = std::strtof(cell.c_str(), &end);
      if (cell.empty() || end != cell.c_str() + cell.size() || !std::isfinite(value)) {
        throw Error(where + "; regression values must be finite numbers");
      }
      index.targets.push_back(value);
    }
  }
}

}  // namespace

ImageIndex index_target_list(const std::string& list_path, const TargetColumns& targets,
                             const std::vector<std::string>& class_names) {
  if (targets.task == nn::Task::kClassification) {
    throw Error(list_path + ": a classification list is read by index_list_file");
  }
  bool names_field = false;
  const TargetTable table = read_target_rows(list_path, targets, names_field);
  ImageIndex index;
  index.task = targets.task;
  index.class_names = class_names;
  if (names_field) {
    if (targets.task != nn::Task::kMultiLabel) {
      throw Error(list_path + ": a column of class names is for task multi_label");
    }
    assign_names(table, list_path, index);
  } else {
    assign_columns(table, list_path, index);
  }
  for (const TargetRow& row : table.rows) index.paths.push_back(row.path);
  index.labels.assign(index.paths.size(), 0);
  return index;
}

}  // namespace kiln::io
