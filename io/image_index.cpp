#include "io/image_index.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "io/run_files/csv_log.hpp"
#include "nn/error.hpp"
#include "nn/random.hpp"

namespace kiln::io {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool has_image_extension(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), ext) != known.end();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions = {
      ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".gif"};
  return extensions;
}

ImageIndex index_class_folders(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw Error(root + ": not a folder (expected one sub-folder per class)");
  ImageIndex index;
  std::vector<fs::path> classes;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory()) classes.push_back(entry.path());
  }
  if (ec) throw Error(root + ": cannot list the folder: " + ec.message());
  if (classes.empty()) {
    throw Error(root +
                ": holds no class folders; put the images of each class in root/<class name>/");
  }
  std::sort(classes.begin(), classes.end());  // byte order of the names, as torchvision and Keras
  for (std::size_t label = 0; label < classes.size(); ++label) {
    index.class_names.push_back(classes[label].filename().string());
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(
             classes[label], fs::directory_options::follow_directory_symlink, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) throw Error(classes[label].string() + ": cannot list the folder: " + ec.message());
      if (!it->is_regular_file()) continue;
      if (has_image_extension(it->path())) {
        files.push_back(it->path().string());
      } else {
        ++index.ignored_files;
      }
    }
    if (files.empty())
      index.warnings.push_back({classes[label].string(), "empty class folder: no image files"});
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      index.paths.push_back(std::move(f));
      index.labels.push_back(static_cast<std::int32_t>(label));
    }
  }
  if (index.paths.empty()) {
    std::string exts;
    for (const auto& e : image_extensions()) exts += (exts.empty() ? "" : " ") + e;
    throw Error(root + ": no image files found in its " + std::to_string(classes.size()) +
                " class folders (looked for " + exts + ")");
  }
  return index;
}

namespace {

// The rows of a list file, in order: image paths (relative ones resolved against the list's
// folder), the label text of each, and the line each came from.
struct ListRows {
  std::vector<std::string> paths, labels;
  std::vector<std::size_t> lines;
};

ListRows read_list_rows(const std::string& list_path) {
  std::ifstream in(list_path);
  if (!in) throw Error(list_path + ": cannot open the list file");
  const fs::path base = fs::path(list_path).parent_path();
  const bool csv = lower(fs::path(list_path).extension().string()) == ".csv";
  ListRows rows;
  std::string line;
  std::size_t line_number = 0, path_column = 0, label_column = 1;
  bool header_read = !csv;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields;
    if (csv) {
      fields = split_csv_line(text);
      if (!header_read) {
        header_read = true;
        const auto p = std::find(fields.begin(), fields.end(), "path");
        const auto l = std::find(fields.begin(), fields.end(), "label");
        if (p == fields.end() || l == fields.end()) {
          throw Error(list_path + ":" + std::to_string(line_number) +
                      ": a CSV list needs a header with the columns \"path\" and \"label\"");
        }
        path_column = static_cast<std::size_t>(p - fields.begin());
        label_column = static_cast<std::size_t>(l - fields.begin());
        continue;
      }
    } else {
      // "path label": the label is the last field, so paths may contain spaces.
      const auto split = text.find_last_of(" \t");
      if (split == std::string::npos) {
        throw Error(list_path + ":" + std::to_string(line_number) +
                    ": expected \"path label\", got \"" + text + "\"");
      }
      fields = {trim(text.substr(0, split)), trim(text.substr(split + 1))};
    }
    if (fields.size() <= std::max(path_column, label_column)) {
      throw Error(list_path + ":" + std::to_string(line_number) + ": too few fields in \"" + text +
                  "\"");
    }
    rows.labels.push_back(fields[label_column]);
    rows.lines.push_back(line_number);
    fs::path p = fields[path_column];
    if (p.is_relative()) p = base / p;
    rows.paths.push_back(p.string());
  }
  if (rows.paths.empty()) throw Error(list_path + ": the list holds no images");
  return rows;
}

// Labels: class names when given; otherwise all-integer labels are used as they are, and text
// labels become classes in sorted order (as class folders do).
void assign_labels(const ListRows& rows, const std::string& list_path, ImageIndex& index) {
  std::map<std::string, std::int32_t> by_name;
  for (std::size_t i = 0; i < index.class_names.size(); ++i)
    by_name[index.class_names[i]] = static_cast<std::int32_t>(i);
  const bool names_given = !index.class_names.empty();
  const std::size_t given = index.class_names.size();
  auto is_integer = [](const std::string& t) {
    return !t.empty() && t.size() < 9 &&
           std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  const bool all_integers = std::all_of(rows.labels.begin(), rows.labels.end(), is_integer);
  if (!names_given && !all_integers) {
    std::vector<std::string> sorted(rows.labels.begin(), rows.labels.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    index.class_names = sorted;
    for (std::size_t i = 0; i < sorted.size(); ++i)
      by_name[sorted[i]] = static_cast<std::int32_t>(i);
  }
  // Integer labels without class names make classes 0..max: a label far above the rest (a typo,
  // or a column of ids) would make millions of classes, so they must stay below kMaxClasses.
  constexpr int kMaxClasses = 1'000'000;
  for (std::size_t i = 0; i < rows.labels.size(); ++i) {
    const std::string& t = rows.labels[i];
    const std::string where = list_path + ":" + std::to_string(rows.lines[i]);
    if (!names_given && all_integers && std::stoi(t) >= kMaxClasses) {
      throw Error(where + ": label " + t + " would make " + std::to_string(std::stoi(t) + 1) +
                  " classes; integer labels must be below " + std::to_string(kMaxClasses) +
                  " (number the classes from 0, or use class names as labels)");
    }
    if (auto it = by_name.find(t); it != by_name.end()) {
      index.labels.push_back(it->second);
    } else if (is_integer(t) && (!names_given || std::stoi(t) < static_cast<int>(given))) {
      index.labels.push_back(std::stoi(t));
    } else {
      throw Error(where + ": label \"" + t + "\" is not " +
                  (names_given ? "one of the given class names" : "an integer or a class name"));
    }
  }
  if (index.class_names.empty()) {
    const std::int32_t max_label = *std::max_element(index.labels.begin(), index.labels.end());
    for (std::int32_t c = 0; c <= max_label; ++c) index.class_names.push_back(std::to_string(c));
  }
}

}  // namespace

ImageIndex index_list_file(const std::string& list_path,
                           const std::vector<std::string>& class_names) {
  ListRows rows = read_list_rows(list_path);
  ImageIndex index;
  index.class_names = class_names;
  assign_labels(rows, list_path, index);
  index.paths = std::move(rows.paths);
  return index;
}

}  // namespace kiln::io

namespace kiln::io {

namespace {

// Each class's sample indices, shuffled by Rng{seed, stream, class, kSlotSplit}.
std::vector<std::vector<std::size_t>> shuffled_classes(const std::vector<std::int32_t>& labels,
                                                       std::size_t classes, std::uint64_t seed,
                                                       std::uint64_t stream) {
  std::vector<std::vector<std::size_t>> by_class(classes);
  for (std::size_t i = 0; i < labels.size(); ++i)
    by_class.at(static_cast<std::size_t>(labels[i])).push_back(i);
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto& members = by_class[c];
    nn::Rng rng({seed, stream, c, nn::kSlotSplit});
    for (std::size_t i = members.size(); i > 1; --i) {  // Fisher–Yates
      std::swap(members[i - 1],
                members[static_cast<std::size_t>(rng.randint(0, static_cast<std::int64_t>(i)))]);
    }
  }
  return by_class;
}

}  // namespace

std::vector<std::int32_t> stratified_folds(const std::vector<std::int32_t>& labels,
                                           std::size_t classes, std::int32_t k,
                                           std::uint64_t seed) {
  if (k < 2) throw Error("k-fold needs at least 2 folds, got " + std::to_string(k));
  std::vector<std::int32_t> fold(labels.size(), 0);
  // Dealing continues from class to class, so small classes do not all start at fold 0.
  std::size_t dealt = 0;
  for (const auto& members : shuffled_classes(labels, classes, seed, 1)) {
    for (const std::size_t i : members) fold[i] = static_cast<std::int32_t>(dealt++ % k);
  }
  return fold;
}

std::vector<bool> stratified_holdout(const std::vector<std::int32_t>& labels, std::size_t classes,
                                     double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) {
    throw Error("the validation fraction must be in (0, 1), got " + std::to_string(fraction));
  }
  std::vector<bool> held_out(labels.size(), false);
  for (auto& members : shuffled_classes(labels, classes, seed, 0)) {
    const auto take =
        static_cast<std::size_t>(std::llround(fraction * static_cast<double>(members.size())));
    for (std::size_t k = 0; k < take; ++k) held_out[members[k]] = true;
  }
  return held_out;
}

IndexSplit split_index(const ImageIndex& index, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction <= kMaxValidationFraction)) {
    throw ConfigError("the validation fraction must be in (0, 0.9], got " +
                      std::to_string(fraction));
  }
  const std::vector<bool> to_validation =
      stratified_holdout(index.labels, index.class_names.size(), fraction, seed);
  IndexSplit split;
  for (ImageIndex* part : {&split.train, &split.validation}) {
    part->class_names = index.class_names;
    part->ignored_files = index.ignored_files;
  }
  split.train.warnings = index.warnings;
  const std::size_t width = index.targets.empty() ? 0 : index.class_names.size();
  for (std::size_t i = 0; i < index.paths.size(); ++i) {
    ImageIndex& part = to_validation[i] ? split.validation : split.train;
    part.task = index.task;
    part.paths.push_back(index.paths[i]);
    part.labels.push_back(index.labels[i]);
    const auto row = index.targets.begin() + static_cast<std::ptrdiff_t>(i * width);
    part.targets.insert(part.targets.end(), row, row + static_cast<std::ptrdiff_t>(width));
  }
  if (split.train.paths.empty() || split.validation.paths.empty()) {
    throw Error("--val-split " + std::to_string(fraction) + " leaves one part empty (" +
                std::to_string(index.paths.size()) + " images); choose a fraction that keeps both");
  }
  return split;
}

}  // namespace kiln::io
