// security.run_as: the user the running agent becomes, as the config and
// the flag give it, and as this system's user and group databases resolve it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/privileges.hpp"
#include "shimwatch/config.hpp"

using shimwatch::apply_config_json;
using shimwatch::default_config;
using shimwatch::resolve_run_as;
using shimwatch::validate_config;

namespace {

shimwatch::Status validate_run_as(const std::string &spec) {
  auto config = default_config();
  config.run_as = spec;
  return validate_config(config);
}

} // namespace

TEST(RunAs, DefaultIsNobodyNotRoot) {
  EXPECT_EQ(default_config().run_as, "65534:65534");
  auto user = resolve_run_as(default_config().run_as);
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(user->uid, 65534u);
  EXPECT_EQ(user->gid, 65534u);
  EXPECT_FALSE(user->root());
}

TEST(RunAs, ValidSpellingsPassAndBadOnesNameTheKey) {
  for (const char *good :
       {"root", "65534", "65534:65534", "nobody", "nobody:nogroup", "svc.user-1"})
    EXPECT_TRUE(validate_run_as(good)) << good;
  for (const char *bad : {"", ":", "65534:", ":65534", "a:b:c", "-u", "user name", "x;rm"}) {
    auto st = validate_run_as(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message.find("security.run_as"), std::string::npos) << st.error().message;
  }
}

TEST(RunAs, ConfigFileSetsItAndRejectsAWrongType) {
  auto config = apply_config_json(R"({"security": {"run_as": "root"}})", default_config());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->run_as, "root");
  auto wrong = apply_config_json(R"({"security": {"run_as": 0}})", default_config());
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("security.run_as"), std::string::npos);
  auto unknown = apply_config_json(R"({"security": {"user": "x"}})", default_config());
  EXPECT_FALSE(unknown);
  // It goes back out in --print-config's document.
  EXPECT_NE(shimwatch::config_to_json(*config).find("\"run_as\": \"root\""), std::string::npos);
}

TEST(RunAs, FlagSetsIt) {
  auto parsed = shimwatch::parse_cli({"run", "--run-as", "1234:5678"});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config.run_as, "1234:5678");
  auto equals = shimwatch::parse_cli({"run", "--run-as=root"});
  ASSERT_TRUE(equals);
  EXPECT_EQ(equals->config.run_as, "root");
  auto bad = shimwatch::parse_cli({"run", "--run-as", "a b"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("run_as"), std::string::npos) << bad.error().message;
}

TEST(RunAs, NamesAndNumbersResolve) {
  auto root = resolve_run_as("root");
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->root());
  auto numeric = resolve_run_as("1234");
  ASSERT_TRUE(numeric);
  EXPECT_EQ(numeric->uid, 1234u);
  EXPECT_EQ(numeric->gid, 1234u) << "a number alone takes the same gid";
  auto both = resolve_run_as("1234:99");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->gid, 99u);
  // Debian's base system has nobody (65534) in group nogroup (65534).
  auto named = resolve_run_as("nobody");
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->uid, 65534u);
  EXPECT_EQ(named->gid, 65534u);
  auto named_group = resolve_run_as("nobody:root");
  ASSERT_TRUE(named_group);
  EXPECT_EQ(named_group->gid, 0u);
}

TEST(RunAs, UnknownNamesAreClearErrors) {
  auto user = resolve_run_as("no-such-user-here");
  ASSERT_FALSE(user);
  EXPECT_NE(user.error().message.find("no user no-such-user-here"), std::string::npos)
      << user.error().message;
  EXPECT_NE(user.error().message.find("give a number"), std::string::npos);
  auto group = resolve_run_as("nobody:no-such-group-here");
  ASSERT_FALSE(group);
  EXPECT_NE(group.error().message.find("no group no-such-group-here"), std::string::npos);
}
