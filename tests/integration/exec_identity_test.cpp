// The docker CLI under another name: a symlink, a hard link, a binary named
// in watch.exec_paths. Matched by the file's identity (inode and device) in
// the kernel, so the name it runs under does not matter.
#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

// The real docker CLI's path, as the agent would find it.
std::string docker_binary() {
  for (const char *path : {"/usr/local/bin/docker", "/usr/bin/docker"})
    if (access(path, X_OK) == 0)
      return path;
  return "";
}

json only_exec_of(const AgentOutput &out, pid_t pid) {
  auto found = events_of(out, pid, "docker-cli-exec");
  EXPECT_EQ(found.size(), 1u) << "pid " << pid << "\n" << out.log;
  return found.empty() ? json() : found[0];
}

} // namespace

TEST(ExecIdentity, DockerThroughASymlinkUnderAnotherNameIsCaught) {
  std::string docker = docker_binary();
  ASSERT_FALSE(docker.empty()) << "no docker CLI installed";
  TempDir dir;
  std::string alias = dir.file("containerctl");
  ASSERT_EQ(symlink(docker.c_str(), alias.c_str()), 0);
  Agent agent;
  auto run = run_process({alias, "--version"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  json e = only_exec_of(out, run.pid);
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["process"]["name"], "containerctl");
  EXPECT_EQ(e["process"]["args"], json::array({alias, "--version"}));
  EXPECT_EQ(e["shimwatch"]["exec"]["path"], alias);
  EXPECT_EQ(e["shimwatch"]["exec"]["matched_by"], "identity");
  EXPECT_EQ(e["process"]["executable"], docker);
}

TEST(ExecIdentity, DockerThroughAHardLinkIsCaught) {
  std::string docker = docker_binary();
  ASSERT_FALSE(docker.empty());
  // A hard link must stay on the binary's filesystem: next to it.
  std::string link = docker.substr(0, docker.rfind('/')) + "/.sw-test-dkr";
  unlink(link.c_str());
  ASSERT_EQ(::link(docker.c_str(), link.c_str()), 0) << std::strerror(errno);
  Agent agent;
  auto run = run_process({link, "--version"});
  unlink(link.c_str());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  json e = only_exec_of(out, run.pid);
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["shimwatch"]["exec"]["matched_by"], "identity");
  EXPECT_EQ(e["process"]["name"], ".sw-test-dkr");
}

TEST(ExecIdentity, AConfiguredBinaryIsFollowedWhenItIsReplaced) {
  TempDir dir;
  std::string tool = dir.file("engine-tool");
  std::string alias = dir.file("quiet-name");
  copy_executable(dir, "/bin/true", "engine-tool");
  ASSERT_EQ(symlink(tool.c_str(), alias.c_str()), 0);
  Agent agent({"--watch-exec-path", tool});

  auto first = run_process({alias});
  // An upgrade: a new file (a new inode) under the same name.
  struct stat before {};
  ASSERT_EQ(stat(tool.c_str(), &before), 0);
  // As package managers do it: a new file, renamed over the old one.
  std::string fresh = copy_executable(dir, "/bin/true", "engine-tool.new");
  ASSERT_EQ(rename(fresh.c_str(), tool.c_str()), 0);
  struct stat after {};
  ASSERT_EQ(stat(tool.c_str(), &after), 0);
  ASSERT_NE(before.st_ino, after.st_ino);
  std::this_thread::sleep_for(2500ms); // the agent looks again every second
  auto second = run_process({alias});

  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  for (pid_t pid : {first.pid, second.pid}) {
    json e = only_exec_of(out, pid);
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e["shimwatch"]["exec"]["matched_by"], "identity");
    EXPECT_EQ(e["process"]["name"], "quiet-name");
  }
}

TEST(ExecIdentity, OtherBinariesUnderAnyNameStayQuiet) {
  TempDir dir;
  std::string alias = dir.file("docker-like");
  ASSERT_EQ(symlink("/bin/true", alias.c_str()), 0);
  Agent agent;
  auto run = run_process({alias});
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, run.pid).empty());
}
