// classify: decides whether a decoded event is one the config asked for.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shimwatch/config.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

class Classifier {
public:
  explicit Classifier(const Config &config);

  // The kernel matches exec on comm, the basename cut to 15 bytes. Here the
  // whole basename of the path passed to execve() must be a watched name.
  // Without a usable path (unreadable, or cut short) the event is kept when
  // comm is what the kernel matched: better reported than silently lost.
  bool accept(const Event &event) const;

  // Tags event.origin.agent with the first agent rule that matches.
  void tag_agent(Event &event) const;

private:
  std::vector<AgentRule> agent_rules_; // the config's, then the built-in ones
  std::unordered_set<std::string> exec_names_;
  std::unordered_set<std::string> exec_comm_keys_; // watched names cut to 15 bytes
};

std::string_view basename_of(std::string_view path);

// The rules shipped with shimwatch (src/classify/default_agents.json).
std::string_view builtin_agent_rules_json();
// Parses a JSON array of rules; errors name the entry and key.
Result<std::vector<AgentRule>> parse_agent_rules(std::string_view json_text);
Result<std::vector<AgentRule>> parse_agent_rules(const nlohmann::json &rules,
                                                 const std::string &where);

// First rule that matches, in order; empty when none does.
std::string match_agent(const std::vector<AgentRule> &rules, const Event &event);

} // namespace shimwatch
