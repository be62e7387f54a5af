// The exec probe runs on the BTF raw tracepoint where the kernel allows it
// and on the classic tracepoint otherwise (or when asked): both see the same
// execs and write the same records.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;
using nlohmann::json;

namespace {

struct HookMode {
  const char *flag;       // --hooks
  const char *exec_hook;  // the attach point the start log names
  const char *other_hook; // the one it must not name
};

class Hooks : public ::testing::TestWithParam<HookMode> {};

void PrintTo(const HookMode &mode, std::ostream *os) {
  *os << "--hooks " << mode.flag;
}

} // namespace

TEST_P(Hooks, ExecByNameAndByIdentityAreCaughtAlike) {
  const HookMode mode = GetParam();
  TempDir dir;
  const std::string docker = fake_executable(dir, "docker");
  const std::string tool = copy_executable(dir, "/bin/true", "engine-tool");
  const std::string alias = dir.file("quiet-name");
  ASSERT_EQ(symlink(tool.c_str(), alias.c_str()), 0);
  Agent agent({"--hooks", mode.flag, "--watch-exec-path", tool});

  // TRIGGER: a CLI by name, a watched binary through an alias, an unwatched binary.
  auto by_name = run_process({docker, "ps", "-a"});
  auto by_identity = run_process({alias, "--flag"});
  // Not /bin/true again: a copy of a watched binary counts by its build-id.
  auto unwatched = run_process({copy_executable(dir, "/bin/echo", "not-docker")});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  EXPECT_NE(out.log.find(std::string("kernel hooks: ")), std::string::npos) << out.log;
  const std::string hooks_line = out.log.substr(out.log.find("kernel hooks: "));
  const std::string hooks = hooks_line.substr(0, hooks_line.find('\n'));
  EXPECT_NE(hooks.find(mode.exec_hook), std::string::npos) << hooks;
  EXPECT_EQ(hooks.find(mode.other_hook), std::string::npos) << hooks;

  auto named = events_of(out, by_name.pid, "docker-cli-exec");
  ASSERT_EQ(named.size(), 1u) << out.log;
  EXPECT_EQ(named[0]["process"]["args"], json::array({docker, "ps", "-a"}));
  EXPECT_EQ(named[0]["shimwatch"]["exec"]["path"], docker);
  EXPECT_EQ(named[0]["shimwatch"]["exec"]["matched_by"], "name");
  EXPECT_EQ(named[0]["process"]["executable"], docker);

  auto linked = events_of(out, by_identity.pid, "docker-cli-exec");
  ASSERT_EQ(linked.size(), 1u) << out.log;
  EXPECT_EQ(linked[0]["shimwatch"]["exec"]["matched_by"], "identity");
  EXPECT_EQ(linked[0]["shimwatch"]["exec"]["path"], alias);
  EXPECT_EQ(linked[0]["process"]["executable"], tool);

  EXPECT_TRUE(events_of(out, unwatched.pid).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Modes, Hooks,
    ::testing::Values(HookMode{"auto", "tp_btf/sched_process_exec", "tracepoint/sched/"},
                      HookMode{"tracepoints", "tracepoint/sched/sched_process_exec", "tp_btf/"}),
    [](const ::testing::TestParamInfo<HookMode> &info) {
      return std::string(info.param.flag) == "auto" ? "Auto" : "Tracepoints";
    });
