#include <algorithm>
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

namespace {
// Distinct values remembered per field; past it the memory starts over. A
// node has a few hundred images, units and executables, not thousands.
constexpr size_t kRememberedValues = 4096;
} // namespace

size_t AgentMatcher::first_rule(Field field, const std::string &value) {
  if (value.empty())
    return rules_.size();
  auto &remembered = remembered_[field];
  if (auto it = remembered.find(value); it != remembered.end())
    return it->second;
  size_t first = rules_.size();
  for (size_t i = 0; i < rules_.size() && first == rules_.size(); ++i) {
    const AgentRule &rule = rules_[i];
    const std::vector<std::string> &patterns = field == images       ? rule.images
                                               : field == containers ? rule.containers
                                               : field == workloads  ? rule.workloads
                                               : field == units      ? rule.units
                                                                     : rule.executables;
    if (any_match(patterns, value))
      first = i;
  }
  if (remembered.size() >= kRememberedValues)
    remembered.clear();
  remembered.emplace(value, first);
  return first;
}

std::string AgentMatcher::match(const Event &event) {
  if (rules_.empty())
    return "";
  // match_agent takes the first rule that any field matches: the smallest
  // of each field's first matching rule.
  const Origin &o = event.origin;
  size_t best =
      std::min({first_rule(images, o.container_image), first_rule(containers, o.container_name),
                first_rule(workloads, o.workload_name), first_rule(units, o.cgroup.unit),
                first_rule(executables, event.process.executable)});
  for (const auto &a : event.process.ancestry)
    best = std::min(best, first_rule(executables, a.executable));
  return best < rules_.size() ? rules_[best].name : "";
}

} // namespace shimwatch
