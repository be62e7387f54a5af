#include <fnmatch.h>
#include <nlohmann/json.hpp>

#include "shimwatch/classify.hpp"

namespace shimwatch {

namespace {

bool any_match(const std::vector<std::string> &patterns, const std::string &value) {
  if (value.empty())
    return false;
  for (const auto &p : patterns)
    if (fnmatch(p.c_str(), value.c_str(), 0) == 0)
      return true;
  return false;
}

} // namespace

Result<std::vector<AgentRule>> parse_agent_rules(const nlohmann::json &rules,
                                                 const std::string &where) {
  if (!rules.is_array())
    return Error{where + ": must be an array of rules, got " + std::string(rules.type_name())};
  std::vector<AgentRule> out;
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto &r = rules[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!r.is_object())
      return Error{at + ": must be an object"};
    AgentRule rule;
    for (const auto &[key, value] : r.items()) {
      std::vector<std::string> *list = nullptr;
      if (key == "name") {
        if (!value.is_string() || value.get<std::string>().empty())
          return Error{at + ".name: must be a non-empty string"};
        rule.name = value.get<std::string>();
        continue;
      }
      if (key == "images")
        list = &rule.images;
      else if (key == "containers")
        list = &rule.containers;
      else if (key == "workloads")
        list = &rule.workloads;
      else if (key == "executables")
        list = &rule.executables;
      else if (key == "units")
        list = &rule.units;
      else
        return Error{at + "." + key +
                     ": unknown key (allowed: name, images, containers, workloads, "
                     "executables, units)"};
      if (!value.is_array())
        return Error{at + "." + key + ": must be an array of glob patterns"};
      for (const auto &pattern : value) {
        if (!pattern.is_string() || pattern.get<std::string>().empty())
          return Error{at + "." + key + ": patterns must be non-empty strings"};
        list->push_back(pattern.get<std::string>());
      }
    }
    if (rule.name.empty())
      return Error{at + ": has no name"};
    out.push_back(std::move(rule));
  }
  return out;
}

Result<std::vector<AgentRule>> parse_agent_rules(std::string_view json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error &e) {
    return Error{std::string("agent rules are not valid JSON: ") + e.what()};
  }
  return parse_agent_rules(doc, "agents");
}

std::string match_agent(const std::vector<AgentRule> &rules, const Event &event) {
  const Origin &o = event.origin;
  for (const auto &rule : rules) {
    if (any_match(rule.images, o.container_image) || any_match(rule.containers, o.container_name) ||
        any_match(rule.workloads, o.workload_name) || any_match(rule.units, o.cgroup.unit) ||
        any_match(rule.executables, event.process.executable))
      return rule.name;
    for (const auto &a : event.process.ancestry)
      if (any_match(rule.executables, a.executable))
        return rule.name;
  }
  return "";
}

} // namespace shimwatch
