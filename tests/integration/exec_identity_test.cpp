// The docker CLI under another name: a symlink, a hard link, a binary named
// in watch.exec_paths. Matched by the file's identity (inode and device) in
// the kernel, so the name it runs under does not matter.
#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"
#include "shimwatch/probe.hpp"

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
  // TRIGGER: the docker CLI run through a symlink named containerctl.
  auto run = run_process({alias, "--version"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ASSERT
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
  // TRIGGER: the docker CLI run through a hard link.
  auto run = run_process({link, "--version"});
  unlink(link.c_str());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ASSERT
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

  // TRIGGER: the binary run through its alias, replaced, then run again.
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

  // ASSERT
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
  // TRIGGER: /bin/true run under a docker-like name.
  auto run = run_process({alias});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(events_of(out, run.pid).empty());
}

// A copy of the CLI under another name is a new file: no name and no inode
// match. The first run of every binary nothing else matched is checked in
// user space, and a build-id equal to the docker CLI's gives it away; from
// then on the kernel matches the copy directly.
TEST(ExecIdentity, ARenamedCopyOfTheCliIsCaughtByItsBuildId) {
  std::string docker = docker_binary();
  ASSERT_FALSE(docker.empty());
  auto expected = shimwatch::read_build_id(docker);
  ASSERT_TRUE(expected.has_value()) << docker << " has no build-id";
  TempDir dir;
  std::string copy = copy_executable(dir, docker, "ctr-helper");
  Agent agent;
  // TRIGGER: a renamed copy of the CLI, run twice.
  auto first = run_process({copy, "--version"});
  std::this_thread::sleep_for(300ms); // the check, then the kernel knows it
  auto second = run_process({copy, "--version"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  json e = only_exec_of(out, first.pid);
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["process"]["name"], "ctr-helper");
  EXPECT_EQ(e["process"]["executable"], copy);
  EXPECT_EQ(e["process"]["args"], json::array({copy, "--version"}));
  EXPECT_EQ(e["shimwatch"]["exec"]["matched_by"], "build_id");
  EXPECT_EQ(e["shimwatch"]["exec"]["build_id"], expected->value);
  json again = only_exec_of(out, second.pid);
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["shimwatch"]["exec"]["matched_by"], "identity");
}

// A docker CLI the host does not have (as inside an image): its build-id is
// learned when it runs under its own name, and a renamed copy is caught next.
// containerd stands in for it: a Go binary like the CLI, not a watched one.
TEST(ExecIdentity, ABuildIdIsLearnedFromACliRunUnderItsOwnName) {
  TempDir dir;
  std::string as_docker = copy_executable(dir, "/usr/bin/containerd", "docker");
  std::string renamed = copy_executable(dir, "/usr/bin/containerd", "enginex");
  std::string unrelated = copy_executable(dir, "/bin/true", "enginey");
  auto expected = shimwatch::read_build_id(as_docker);
  ASSERT_TRUE(expected.has_value());
  Agent agent;
  // TRIGGER: a Go binary run as docker, then under another name; an unrelated binary.
  auto named = run_process({as_docker, "--version"});
  std::this_thread::sleep_for(300ms);
  auto copy = run_process({renamed, "--version"});
  auto quiet = run_process({unrelated});
  ASSERT_EQ(named.exit_code, 0) << named.output;
  ASSERT_EQ(copy.exit_code, 0) << copy.output;
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  EXPECT_EQ(only_exec_of(out, named.pid)["shimwatch"]["exec"]["matched_by"], "name");
  json e = only_exec_of(out, copy.pid);
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["process"]["name"], "enginex");
  EXPECT_EQ(e["shimwatch"]["exec"]["matched_by"], "build_id");
  EXPECT_EQ(e["shimwatch"]["exec"]["build_id"], expected->value);
  EXPECT_TRUE(events_of(out, quiet.pid).empty()) << out.log;
}

// A stand-in named docker that is not a Go binary teaches nothing: copies of
// ordinary tools stay quiet whatever they are called.
TEST(ExecIdentity, ANonGoBinaryNamedDockerTeachesNothing) {
  TempDir dir;
  std::string as_docker = copy_executable(dir, "/bin/true", "docker");
  std::string renamed = copy_executable(dir, "/bin/true", "truthy");
  Agent agent;
  // TRIGGER: /bin/true run as docker, then under another name.
  auto named = run_process({as_docker});
  std::this_thread::sleep_for(300ms);
  auto copy = run_process({renamed});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_EQ(events_of(out, named.pid, "docker-cli-exec").size(), 1u) << out.log;
  EXPECT_TRUE(events_of(out, copy.pid).empty()) << out.log;
}
