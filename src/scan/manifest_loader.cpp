#include "scan/manifest_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace shimwatch::scan {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json scalar_to_json(const YAML::Node &node) {
  const std::string &text = node.Scalar();
  // "!" is a quoted (non-plain) scalar; an explicit tag other than the core
  // ones is kept as text as well.
  if (node.Tag() != "?")
    return text;
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return nullptr;
  if (text == "true" || text == "True" || text == "TRUE")
    return true;
  if (text == "false" || text == "False" || text == "FALSE")
    return false;
  static const std::regex integer("[-+]?[0-9]+");
  static const std::regex floating("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  try {
    if (std::regex_match(text, integer))
      return std::stoll(text);
    if (std::regex_match(text, floating))
      return std::stod(text);
  } catch (const std::out_of_range &) {
  }
  return text;
}

std::string read_stream(std::istream &in) {
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool is_manifest_file(const fs::path &path) {
  auto ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// kubelet's staticPodPath is /etc/kubernetes/manifests by convention.
bool in_manifests_dir(const fs::path &path) {
  return path.parent_path().filename() == "manifests";
}

void parse_json_text(const std::string &text, const std::string &name, bool static_dir,
                     LoadedManifests &out) {
  try {
    json document = json::parse(text);
    if (document.is_object())
      add_object(std::move(document), SourceRef{"", "", name, 1, ""}, static_dir, out.objects);
    else if (document.is_array())
      for (size_t i = 0; i < document.size(); ++i)
        add_object(std::move(document[i]), SourceRef{"", "", name, static_cast<int>(i) + 1, ""},
                   static_dir, out.objects);
    else
      out.errors.push_back({name, 1, 1, "not a Kubernetes object"});
  } catch (const json::parse_error &e) {
    // e.byte is the 1-based offset of the offending character.
    size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + end, '\n'));
    auto line_start = text.rfind('\n', end == 0 ? 0 : end - 1);
    int column = static_cast<int>(end - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
    std::string message = e.what();
    if (auto colon = message.find(": "); colon != std::string::npos)
      message = message.substr(colon + 2); // drop "[json.exception.parse_error.101] parse error at"
    out.errors.push_back({name, line, column, "invalid JSON: " + message});
  }
}

struct DocumentText {
  std::string text;
  int first_line = 1; // 1-based line of text's first line in the file
  std::string helm_template;
};

// A document marker ("---", or "---" followed by a space) or an end marker ("...").
bool is_document_marker(std::string_view line) {
  if (line.substr(0, 3) == "---")
    return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
  return line == "..." || line == "...\r";
}

// Splitting at document markers ourselves, rather than yaml-cpp's LoadAll,
// lets one broken document be reported with its line while the others are
// still scanned (LoadAll throws them all away). YAML forbids these markers at
// the start of a line inside any scalar, so the split is exact.
std::vector<DocumentText> split_documents(const std::string &text) {
  std::vector<DocumentText> documents(1);
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (is_document_marker(line)) {
      if (line[0] == '.') {
        documents.push_back({"", number + 1, ""});
        continue;
      }
      documents.push_back({"", number, ""});
      documents.back().text = line.substr(3) + "\n"; // "--- {kind: Pod}" keeps its content
      continue;
    }
    auto &current = documents.back();
    if (current.helm_template.empty() && line.rfind("# Source: ", 0) == 0)
      current.helm_template = line.substr(10);
    current.text += line + "\n";
  }
  return documents;
}

bool has_content(const std::string &text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#' && line[first] != '%')
      return true;
  }
  return false;
}

void parse_yaml_text(const std::string &text, const std::string &name, bool static_dir,
                     LoadedManifests &out) {
  auto documents = split_documents(text);
  int index = 0;
  std::string carried; // directives before a "---" belong to the next document
  for (auto &document : documents) {
    if (!has_content(document.text)) {
      if (document.text.find('%') != std::string::npos)
        carried += document.text;
      continue;
    }
    ++index;
    std::string source = carried + document.text;
    int offset = document.first_line - 1 -
                 static_cast<int>(std::count(carried.begin(), carried.end(), '\n'));
    carried.clear();
    try {
      YAML::Node node = YAML::Load(source);
      if (node.IsNull())
        continue;
      if (!node.IsMap()) {
        out.errors.push_back({name, document.first_line, 1,
                              "document " + std::to_string(index) +
                                  " is not a Kubernetes object (a mapping with kind)"});
        continue;
      }
      add_object(yaml_to_json(node), SourceRef{"", "", name, index, document.helm_template},
                 static_dir, out.objects);
    } catch (const YAML::Exception &e) {
      int line = e.mark.is_null() ? document.first_line : offset + e.mark.line + 1;
      int column = e.mark.is_null() ? 0 : e.mark.column + 1;
      out.errors.push_back({name, line, column, "invalid YAML: " + e.msg});
    }
  }
}

void read_file(const fs::path &path, LoadedManifests &out) {
  std::string name = path.string();
  out.files.push_back(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back({name, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
    return;
  }
  parse_manifest_text(read_stream(in), name, in_manifests_dir(path), out);
}

} // namespace

namespace {

// Aliases share one node in yaml-cpp, but JSON copies each use: a few lines
// of YAML ("billion laughs") would expand to more values than memory holds.
constexpr size_t kMaxExpandedValues = 1'000'000;

json to_json(const YAML::Node &node, size_t &left) {
  if (left == 0)
    throw YAML::Exception(YAML::Mark::null_mark(),
                          "more than " + std::to_string(kMaxExpandedValues) +
                              " values once its aliases are expanded (a YAML bomb?)");
  --left;
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return scalar_to_json(node);
  case YAML::NodeType::Sequence: {
    json array = json::array();
    for (const auto &item : node)
      array.push_back(to_json(item, left));
    return array;
  }
  case YAML::NodeType::Map: {
    json object = json::object();
    for (const auto &entry : node) {
      std::string key = entry.first.IsScalar() ? entry.first.Scalar() : YAML::Dump(entry.first);
      object[key] = to_json(entry.second, left);
    }
    return object;
  }
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined:
    break;
  }
  return nullptr;
}

} // namespace

json yaml_to_json(const YAML::Node &node) {
  size_t left = kMaxExpandedValues;
  return to_json(node, left);
}

void add_object(json object, const SourceRef &source, bool in_static_pod_dir,
                std::vector<ScanObject> &out) {
  if (!object.is_object())
    return;
  // value() throws on a non-string: a manifest may have `kind: 5`.
  auto string_field = [](const json &from, const char *key) {
    auto it = from.find(key);
    return it != from.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string kind = string_field(object, "kind");
  auto items = object.find("items");
  if (ends_with(kind, "List") && items != object.end() && items->is_array()) {
    std::string item_kind = kind == "List" ? "" : kind.substr(0, kind.size() - 4);
    for (auto &item : *items) {
      if (item.is_object() && !item.contains("kind") && !item_kind.empty())
        item["kind"] = item_kind;
      add_object(std::move(item), source, false, out);
    }
    return;
  }
  if (kind.empty())
    return; // values.yaml, kustomization fragments, ...: not objects
  ScanObject scan_object;
  scan_object.source = source;
  scan_object.source.kind = kind;
  if (const auto metadata = object.find("metadata");
      metadata != object.end() && metadata->is_object())
    scan_object.source.name = string_field(*metadata, "name");
  scan_object.in_static_pod_dir = in_static_pod_dir && kind == "Pod";
  scan_object.object = std::move(object);
  out.push_back(std::move(scan_object));
}

void parse_manifest_text(const std::string &text, const std::string &name, bool in_static_pod_dir,
                         LoadedManifests &out) {
  auto first = text.find_first_not_of(" \t\r\n");
  bool json_text = ends_with(name, ".json") ||
                   (first != std::string::npos && (text[first] == '{' || text[first] == '['));
  if (json_text)
    parse_json_text(text, name, in_static_pod_dir, out);
  else
    parse_yaml_text(text, name, in_static_pod_dir, out);
}

Status load_manifests(const std::vector<std::string> &inputs, std::istream &stdin_stream,
                      LoadedManifests &out) {
  for (const auto &input : inputs) {
    if (input == "-") {
      out.files.emplace_back("<stdin>");
      parse_manifest_text(read_stream(stdin_stream), "<stdin>", false, out);
      continue;
    }
    std::error_code ec;
    fs::path path(input);
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
      return Error{"-f " + input + ": no such file or directory", ENOENT};
    if (!fs::is_directory(status)) {
      read_file(path, out);
      continue;
    }
    std::vector<fs::path> files;
    auto options = fs::directory_options::skip_permission_denied;
    for (auto it = fs::recursive_directory_iterator(path, options, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string file_name = it->path().filename().string();
      if (!file_name.empty() && file_name[0] == '.') {
        if (it->is_directory(ec))
          it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && is_manifest_file(it->path()))
        files.push_back(it->path());
    }
    if (ec)
      out.errors.push_back({input, 0, 0, "cannot list the directory: " + ec.message()});
    std::sort(files.begin(), files.end());
    for (const auto &file : files)
      read_file(file, out);
  }
  return Ok{};
}

} // namespace shimwatch::scan
