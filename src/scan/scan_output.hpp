// A scan as JSON for tools (schema_version 1, documented in README.md,
// "Static scan") or as aligned columns for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "scan/scan_model.hpp"

namespace shimwatch::scan {

inline constexpr int kScanSchemaVersion = 1;

nlohmann::json scan_to_json(const ScanReport &report);
std::string scan_to_table(const ScanReport &report);

} // namespace shimwatch::scan
