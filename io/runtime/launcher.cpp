#include "io/runtime/launcher.hpp"

#include <cstdlib>
#include <string>

namespace kiln::io {

int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      try {
        return std::max(1, std::stoi(value));
      } catch (const std::exception&) {
        return 1;
      }
    }
  }
  return 1;
}

}  // namespace kiln::io
