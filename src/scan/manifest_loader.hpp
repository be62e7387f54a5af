// Manifests from files, directories and stdin: YAML (multi-document) or
// JSON, List kinds flattened, one error per broken document.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scan/scan_model.hpp"
#include "shimwatch/result.hpp"

namespace YAML {
class Node;
}

namespace shimwatch::scan {

struct LoadedManifests {
  std::vector<ScanObject> objects;
  std::vector<InputError> errors;
  std::vector<std::string> files; // every file read, in order
};

// A YAML node as JSON: plain scalars become null, booleans and numbers as
// YAML 1.2's core schema reads them; quoted scalars stay strings. Throws a
// YAML::Exception past a million values (aliases expanded).
nlohmann::json yaml_to_json(const YAML::Node &node);

// One file's text. JSON when the name ends in .json or the text starts with
// '{' or '['; YAML otherwise. A broken document adds an error with its line
// and the other documents are still read.
void parse_manifest_text(const std::string &text, const std::string &name, bool in_static_pod_dir,
                         LoadedManifests &out);

// Files, directories (recursed for *.yaml, *.yml, *.json, hidden entries
// skipped) and "-" for stdin. An input that does not exist is an Error (a
// usage error); an unreadable file is an InputError and the rest goes on.
Status load_manifests(const std::vector<std::string> &inputs, std::istream &stdin_stream,
                      LoadedManifests &out);

// A List (kind "List" or "<Kind>List") becomes its items; typed lists give
// their items the kind they lack. Anything else is appended as it is.
void add_object(nlohmann::json object, const SourceRef &source, bool in_static_pod_dir,
                std::vector<ScanObject> &out);

} // namespace shimwatch::scan
