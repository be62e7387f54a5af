// One manifest file as `shimwatch scan` reads it: YAML (multi-document) or
// JSON, from a repository or a node's static pod directory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scan/manifest_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  // The first byte picks how the file is named and where it lies, so that
  // both readers and both locations are reached.
  uint8_t choice = data[0];
  std::string text(reinterpret_cast<const char *>(data) + 1, size - 1);
  std::string name = (choice & 1) ? "fuzz.json" : "fuzz.yaml";
  bool in_static_pod_dir = (choice & 2) != 0;
  shimwatch::scan::LoadedManifests out;
  shimwatch::scan::parse_manifest_text(text, name, in_static_pod_dir, out);
  return 0;
}
