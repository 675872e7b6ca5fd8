#include "apps/shared/config_flags.hpp"

#include <sstream>
#include <stdexcept>

#include "pipeline/training/train_config.hpp"

namespace kiln::apps {

// One flag: where CLI11 parses its value, and how that value becomes JSON.
struct ConfigFlags::Given {
  std::string flag, key;
  CLI::Option* option = nullptr;
  std::string text;
  double number = 0;
  std::int64_t integer = 0;
  Json::value_t type = Json::value_t::null;

  Json value() const {
    switch (type) {
      case Json::value_t::boolean:
        return true;
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned:
        return integer;
      case Json::value_t::number_float:
        return number;
      default:
        return text;
    }
  }
  // The flag as the user wrote it, for messages: "--lr -1".
  std::string shown() const {
    const std::string name = option->get_name();
    const auto& given = option->results();
    return type == Json::value_t::boolean || given.empty() ? name : name + " " + given.back();
  }
};

namespace {

const pipeline::ConfigKey& key_info(const std::string& key) {
  for (const auto& k : pipeline::train_config_keys()) {
    if (k.key == key) return k;
  }
  throw std::logic_error("flag for an unknown config key " + key);
}

}  // namespace

ConfigFlags::ConfigFlags(CLI::App* cmd, const std::vector<FlagKey>& table) {
  for (const FlagKey& row : table) {
    const pipeline::ConfigKey& info = key_info(row.key);
    auto g = std::make_shared<Given>();
    g->flag = row.flag;
    g->key = row.key;
    g->type = info.default_value.type();
    const std::string help = info.meaning + " (config: " + info.key + ")";
    switch (g->type) {
      case Json::value_t::boolean:
        g->option = cmd->add_flag(row.flag, help);
        break;
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned:
        g->integer = info.default_value.get<std::int64_t>();
        g->option = cmd->add_option(row.flag, g->integer, help)->capture_default_str();
        break;
      case Json::value_t::number_float:
        g->number = info.default_value.get<double>();
        g->option = cmd->add_option(row.flag, g->number, help)->capture_default_str();
        break;
      default:
        if (info.default_value.is_string()) g->text = info.default_value.get<std::string>();
        g->option = cmd->add_option(row.flag, g->text, help)->capture_default_str();
    }
    flags_.push_back(std::move(g));
  }
}

void ConfigFlags::apply(Json& config) const {
  for (const auto& g : flags_) {
    if (g->option->count() == 0) continue;
    Json overlay = Json::object();
    at_dotted(overlay, g->key) = g->value();
    pipeline::merge_config(config, overlay, g->shown());
  }
}

}  // namespace kiln::apps
