// Agent rules: recognising node agents by image, container, workload, executable or unit.
#include <gtest/gtest.h>

#include "shimwatch/classify.hpp"
#include "shimwatch/config.hpp"

using shimwatch::AgentRule;
using shimwatch::Classifier;
using shimwatch::Event;
using shimwatch::match_agent;
using shimwatch::parse_agent_rules;

namespace {

TEST(AgentRules, BuiltinRulesParseAndCoverTheKnownAgents) {
  auto rules = parse_agent_rules(shimwatch::builtin_agent_rules_json());
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  std::vector<std::string> names;
  for (const auto &r : *rules)
    names.push_back(r.name);
  for (const char *expected : {"datadog", "newrelic", "dynatrace", "sysdig", "falco", "cadvisor",
                               "node-exporter", "fluentd", "fluent-bit", "filebeat", "metricbeat",
                               "telegraf", "splunk-forwarder", "promtail"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST(AgentRules, EachFieldCanMatch) {
  Classifier classifier(shimwatch::default_config());
  Event e;
  e.origin.container_image = "gcr.io/datadoghq/agent:7.50.0";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "datadog");

  e = Event{};
  e.origin.workload_name = "fluent-bit";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "fluent-bit");

  e = Event{};
  e.origin.cgroup.unit = "node_exporter.service";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "node-exporter");

  e = Event{};
  e.process.executable = "/usr/bin/telegraf";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "telegraf");

  // A shell script started by the agent: the ancestor's executable counts.
  e = Event{};
  e.process.executable = "/usr/bin/docker";
  e.process.ancestry.push_back({1, 1, 0, "sh", "/bin/sh"});
  e.process.ancestry.push_back({2, 1, 0, "dragent", "/opt/draios/bin/dragent"});
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "sysdig");

  e = Event{};
  e.process.executable = "/usr/local/bin/cleanup.sh";
  e.origin.cgroup.unit = "cron.service";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "");
}

TEST(AgentRules, UserRulesComeFirstAndBuiltinsCanBeTurnedOff) {
  auto config = shimwatch::default_config();
  config.agent_rules.push_back(AgentRule{"in-house-monitor", {"*datadog*"}, {}, {}, {}, {}});
  Classifier classifier(config);
  Event e;
  e.origin.container_image = "datadog/agent:7";
  classifier.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "in-house-monitor");

  config.agent_rules.clear();
  config.builtin_agents = false;
  Classifier bare(config);
  bare.tag_agent(e);
  EXPECT_EQ(e.origin.agent, "");
}

TEST(AgentRules, TheRememberingMatcherAgreesWithMatchAgentOnEveryEvent) {
  auto rules = parse_agent_rules(shimwatch::builtin_agent_rules_json());
  ASSERT_TRUE(rules.ok());
  // An earlier rule on one field wins over a later rule on another.
  rules->insert(rules->begin(), AgentRule{"first-by-unit", {}, {}, {}, {}, {"special*.service"}});
  shimwatch::AgentMatcher matcher(*rules);
  const std::vector<std::string> images = {"", "gcr.io/datadoghq/agent:7", "nginx:1", "x"};
  const std::vector<std::string> names = {"", "fluent-bit", "app", "promtail"};
  const std::vector<std::string> units = {"", "node_exporter.service", "special-x.service",
                                          "cron.service"};
  const std::vector<std::string> exes = {"", "/usr/bin/telegraf", "/bin/sh", "/usr/bin/docker",
                                         "/opt/draios/bin/dragent"};
  unsigned seed = 7;
  auto pick = [&](const std::vector<std::string> &from) -> const std::string & {
    seed = seed * 1103515245 + 12345;
    return from[(seed >> 16) % from.size()];
  };
  size_t tagged = 0;
  for (int i = 0; i < 5000; ++i) {
    Event e;
    e.origin.container_image = pick(images);
    e.origin.container_name = pick(names);
    e.origin.workload_name = pick(names);
    e.origin.cgroup.unit = pick(units);
    e.process.executable = pick(exes);
    for (int a = 0; a < 3; ++a)
      e.process.ancestry.push_back({1, 1, 0, "p", pick(exes)});
    const std::string expected = match_agent(*rules, e);
    ASSERT_EQ(matcher.match(e), expected) << "event " << i;
    tagged += !expected.empty();
  }
  EXPECT_GT(tagged, 1000u); // the values above do match rules, often
}

TEST(AgentRules, ConfigErrorsNameTheEntryAndKey) {
  auto bad = parse_agent_rules(R"([{"name": "x", "image": ["a"]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("agents[0].image: unknown key"), std::string::npos)
      << bad.error().message;
  bad = parse_agent_rules(R"([{"images": ["a"]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("agents[0]: has no name"), std::string::npos);
  bad = parse_agent_rules(R"([{"name": "x", "units": "cron.service"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("agents[0].units: must be an array"), std::string::npos);
  bad = parse_agent_rules(R"({"name": "x"})");
  ASSERT_FALSE(bad.ok());
  bad = parse_agent_rules("not json");
  ASSERT_FALSE(bad.ok());
}

TEST(AgentRules, ConfigFileRulesAreParsed) {
  auto config = shimwatch::apply_config_json(
      R"({"agents": {"builtin": false, "rules": [{"name": "backup", "units": ["backup*.service"]}]}})",
      shimwatch::default_config());
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_FALSE(config->builtin_agents);
  ASSERT_EQ(config->agent_rules.size(), 1u);
  EXPECT_EQ(config->agent_rules[0].units, std::vector<std::string>{"backup*.service"});
  auto bad = shimwatch::apply_config_json(R"({"agents": {"rules": [{"name": 3}]}})",
                                          shimwatch::default_config());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("agents.rules[0].name"), std::string::npos)
      << bad.error().message;
}

} // namespace
