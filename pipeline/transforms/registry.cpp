#include "pipeline/transforms/registry.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "nn/error.hpp"
#include "pipeline/transforms/affine.hpp"
#include "pipeline/transforms/color_jitter.hpp"
#include "pipeline/transforms/flip.hpp"
#include "pipeline/transforms/lens.hpp"
#include "pipeline/transforms/pad_crop.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/resized_crop.hpp"
#include "pipeline/transforms/scale_crop.hpp"

namespace kiln::pipeline {
namespace {

// Reads a stage's options, rejecting unknown keys and values of the wrong type by name.
class Options {
 public:
  Options(std::string name, const Json& options, std::set<std::string> allowed)
      : name_(std::move(name)), options_(options) {
    if (!options_.is_object()) throw Error("stage '" + name_ + "': options must be a JSON object");
    for (const auto& [key, value] : options_.items()) {
      if (!allowed.contains(key)) {
        std::string names;
        for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
        throw Error("stage '" + name_ + "': unknown option '" + key + "'; allowed: " + names);
      }
    }
  }
  template <class T>
  T get(const std::string& key, T fallback) const {
    if (!options_.contains(key)) return fallback;
    if (!options_.at(key).is_number()) {
      throw Error("stage '" + name_ + "': option '" + key + "' must be a number, got " +
                  options_.at(key).dump());
    }
    return options_.at(key).get<T>();
  }
  // A [lo, hi] pair of numbers.
  std::pair<float, float> range(const std::string& key, float lo, float hi) const {
    if (!options_.contains(key)) return {lo, hi};
    const Json& r = options_.at(key);
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number()) {
      throw Error("stage '" + name_ + "': option '" + key + "' must be [lo, hi], got " + r.dump());
    }
    return {r[0].get<float>(), r[1].get<float>()};
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    if (!options_.contains(key)) return fallback;
    if (!options_.at(key).is_string()) {
      throw Error("stage '" + name_ + "': option '" + key + "' must be a string, got " +
                  options_.at(key).dump());
    }
    return options_.at(key).get<std::string>();
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  const Json& options_;
};

template <class T>
std::unique_ptr<Stage> stage(T transform) {
  return std::make_unique<TransformStage<T>>(std::move(transform));
}

using Factory = std::function<std::unique_ptr<Stage>(const Json&)>;

// The one list of stages.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"horizontal_flip",
       [](const Json& o) {
         return stage(HorizontalFlip(Options("horizontal_flip", o, {"p"}).get("p", 0.5f)));
       }},
      {"vertical_flip",
       [](const Json& o) {
         return stage(VerticalFlip(Options("vertical_flip", o, {"p"}).get("p", 0.5f)));
       }},
      {"pad_crop",
       [](const Json& o) {
         const Options opt("pad_crop", o, {"padding", "fill"});
         return stage(PadCrop(opt.get("padding", 4), opt.get("fill", 0)));
       }},
      {"scale_crop",
       [](const Json& o) {
         const Options opt("scale_crop", o, {"size", "scale_range", "eval_scale"});
         const int size = opt.get("size", 224);
         int lo = 256, hi = 480;
         if (o.contains("scale_range")) {
           const Json& r = o.at("scale_range");
           if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() ||
               !r[1].is_number_integer()) {
             throw Error("stage 'scale_crop': scale_range must be [min, max], got " + r.dump());
           }
           lo = r[0].get<int>();
           hi = r[1].get<int>();
         }
         return stage(ScaleCrop(size, lo, hi, opt.get("eval_scale", lo)));
       }},
      {"random_resized_crop",
       [](const Json& o) {
         const Options opt("random_resized_crop", o,
                           {"size", "area_range", "ratio_range", "crop_fraction"});
         auto pair = [&](const char* key, float lo, float hi) {
           if (!o.contains(key)) return std::make_pair(lo, hi);
           const Json& r = o.at(key);
           if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number()) {
             throw Error(std::string("stage 'random_resized_crop': ") + key +
                         " must be [lo, hi], got " + r.dump());
           }
           return std::make_pair(r[0].get<float>(), r[1].get<float>());
         };
         const auto [area_lo, area_hi] = pair("area_range", 0.08f, 1.f);
         const auto [ratio_lo, ratio_hi] = pair("ratio_range", 3.f / 4.f, 4.f / 3.f);
         return stage(RandomResizedCrop(opt.get("size", 224), area_lo, area_hi, ratio_lo, ratio_hi,
                                        opt.get("crop_fraction", 0.875f)));
       }},
      {"affine",
       [](const Json& o) {
         const Options opt("affine", o,
                           {"rotation", "width_shift", "height_shift", "shear", "zoom_range",
                            "fill_mode", "fill"});
         const auto [zoom_lo, zoom_hi] = opt.range("zoom_range", 1.f, 1.f);
         return stage(Affine(opt.get("rotation", 0.f), opt.get("width_shift", 0.f),
                             opt.get("height_shift", 0.f), opt.get("shear", 0.f), zoom_lo, zoom_hi,
                             parse_fill_mode(opt.text("fill_mode", "constant"), "stage 'affine'"),
                             opt.get("fill", 0)));
       }},
      {"lens_distortion",
       [](const Json& o) {
         const Options opt("lens_distortion", o, {"k1_range", "k2_range", "fill_mode", "fill"});
         const auto [k1_lo, k1_hi] = opt.range("k1_range", -0.2f, 0.2f);
         const auto [k2_lo, k2_hi] = opt.range("k2_range", 0.f, 0.f);
         return stage(LensDistortion(
             k1_lo, k1_hi, k2_lo, k2_hi,
             parse_fill_mode(opt.text("fill_mode", "reflect"), "stage 'lens_distortion'"),
             opt.get("fill", 0)));
       }},
      {"pca_lighting",
       [](const Json& o) {
         const Options opt("pca_lighting", o, {"sigma", "eigenvalues", "eigenvectors"});
         if (!o.contains("eigenvalues") || !o.contains("eigenvectors")) {
           throw Error(
               "stage 'pca_lighting': needs eigenvalues and eigenvectors; kiln train fits them on "
               "the training set when both are left out");
         }
         PcaBasis basis;
         const Json& values = o.at("eigenvalues");
         const Json& vectors = o.at("eigenvectors");
         auto numbers = [](const Json& j) {
           return j.is_array() && j.size() == 3 &&
                  std::all_of(j.begin(), j.end(), [](const Json& x) { return x.is_number(); });
         };
         if (!numbers(values) || !vectors.is_array() || vectors.size() != 3 ||
             !std::all_of(vectors.begin(), vectors.end(), numbers)) {
           throw Error(
               "stage 'pca_lighting': eigenvalues must be 3 numbers and eigenvectors 3 "
               "lists of 3 numbers (one component per row, RGB)");
         }
         for (std::size_t i = 0; i < 3; ++i) {
           basis.stddev[i] = values[i].get<float>();
           for (std::size_t c = 0; c < 3; ++c) basis.vectors[i][c] = vectors[i][c].get<float>();
         }
         return stage(PcaLighting(opt.get("sigma", 0.1f), basis));
       }},
      {"color_jitter",
       [](const Json& o) {
         const Options opt("color_jitter", o, {"brightness", "contrast", "saturation"});
         return stage(ColorJitter(opt.get("brightness", 0.4f), opt.get("contrast", 0.4f),
                                  opt.get("saturation", 0.4f)));
       }},
  };
  return table;
}

}  // namespace

std::vector<std::string> stage_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

std::unique_ptr<Stage> make_stage(const std::string& name, const Json& options) {
  const auto it = factories().find(name);
  if (it == factories().end()) {
    std::string names;
    for (const auto& n : stage_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error("unknown stage '" + name + "'; known stages: " + names);
  }
  return it->second(options.is_null() ? Json::object() : options);
}

std::vector<std::unique_ptr<Stage>> make_stages(const Json& list) {
  std::vector<std::unique_ptr<Stage>> stages;
  if (list.is_null()) return stages;
  if (!list.is_array()) throw Error("stages must be a JSON list, got " + list.dump());
  for (const Json& entry : list) {
    if (!entry.is_object() || !entry.contains("type") || !entry.at("type").is_string()) {
      throw Error("every stage needs a \"type\", got " + entry.dump());
    }
    Json options = entry;
    options.erase("type");
    stages.push_back(make_stage(entry.at("type").get<std::string>(), options));
  }
  return stages;
}

Json stages_config(const std::vector<std::unique_ptr<Stage>>& stages) {
  Json list = Json::array();
  for (const auto& s : stages) {
    Json entry = {{"type", std::string(s->name())}};
    entry.update(s->config());
    list.push_back(entry);
  }
  return list;
}

}  // namespace kiln::pipeline
