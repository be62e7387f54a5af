// Opens of Docker's configuration: registry mirrors, insecure registries,
// certificates and daemon flags live there and must be redone for the new
// runtime. Matched by the file's (or its directory's) identity, so relative
// paths and paths through symlinks are caught; reads and writes apart.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;
using nlohmann::json;

namespace {

std::vector<json> config_events_of(const AgentOutput &out, pid_t pid) {
  std::vector<json> found;
  for (const auto &e : events_of(out, pid))
    if (e["event"]["action"] == "docker-config-read" ||
        e["event"]["action"] == "docker-config-write")
      found.push_back(e);
  return found;
}

} // namespace

TEST(ConfigOpen, ReadsAndWritesUnderAWatchedDirectoryAreReportedApart) {
  TempDir dir;
  std::string etc = dir.file("etc-docker");
  mkdir(etc.c_str(), 0755);
  mkdir((etc + "/certs.d").c_str(), 0755);
  mkdir((etc + "/certs.d/registry.local:5000").c_str(), 0755);
  write_file(etc + "/daemon.json", "{\"registry-mirrors\":[\"https://mirror.local\"]}\n");
  write_file(etc + "/certs.d/registry.local:5000/ca.crt", "cert\n");
  Agent agent({"--watch-config-path", etc});

  // TRIGGER: reads, writes, an append, a relative path and a listing under the directory.
  auto read = run_process({"cat", etc + "/daemon.json"});
  auto nested = run_process({"cat", etc + "/certs.d/registry.local:5000/ca.crt"});
  auto write = run_process({"sh", "-c", "echo '{}' > " + etc + "/daemon.json.new"});
  auto append = run_process({"sh", "-c", "echo '' >> " + etc + "/daemon.json"});
  // A relative path, from inside the directory.
  auto relative = run_process({"sh", "-c", "cd " + etc + " && exec cat daemon.json"});
  auto listing = run_process({"ls", etc});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  auto r = config_events_of(out, read.pid);
  ASSERT_EQ(r.size(), 1u) << out.log;
  EXPECT_EQ(r[0]["event"]["action"], "docker-config-read");
  EXPECT_EQ(r[0]["event"]["category"], json::array({"file"}));
  EXPECT_EQ(r[0]["event"]["type"], json::array({"access"}));
  EXPECT_EQ(r[0]["file"]["path"], etc + "/daemon.json");
  EXPECT_EQ(r[0]["shimwatch"]["config"]["watched"], etc);
  EXPECT_EQ(r[0]["process"]["name"], "cat");

  auto n = config_events_of(out, nested.pid);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0]["file"]["path"], etc + "/certs.d/registry.local:5000/ca.crt");

  auto w = config_events_of(out, write.pid);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]["event"]["action"], "docker-config-write");
  EXPECT_EQ(w[0]["event"]["type"], json::array({"change"}));
  EXPECT_EQ(w[0]["file"]["path"], etc + "/daemon.json.new");
  EXPECT_EQ(w[0]["shimwatch"]["config"]["operation"], "create") << w[0].dump();

  auto a = config_events_of(out, append.pid);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["event"]["action"], "docker-config-write");
  EXPECT_EQ(a[0]["shimwatch"]["config"]["operation"], "write") << a[0].dump();
  EXPECT_EQ(r[0]["shimwatch"]["config"]["operation"], "read");

  auto rel = config_events_of(out, relative.pid);
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(rel[0]["file"]["path"], etc + "/daemon.json");

  EXPECT_TRUE(config_events_of(out, listing.pid).empty()) << "listing the directory read no file";
}

TEST(ConfigOpen, AWatchedFileThroughASymlinkAndOtherFilesStayApart) {
  TempDir dir;
  std::string defaults = dir.file("default-docker");
  std::string link = dir.file("docker-defaults-link");
  std::string other = dir.file("unrelated.conf");
  write_file(defaults, "DOCKER_OPTS=\"--bip=10.9.0.1/24\"\n");
  write_file(other, "x\n");
  ASSERT_EQ(symlink(defaults.c_str(), link.c_str()), 0);
  Agent agent({"--watch-config-path", defaults});
  // TRIGGER: the file read through a symlink, and an unrelated file.
  auto via_link = run_process({"cat", link});
  auto unrelated = run_process({"cat", other});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto found = config_events_of(out, via_link.pid);
  ASSERT_EQ(found.size(), 1u) << out.log;
  EXPECT_EQ(found[0]["file"]["path"], defaults);
  EXPECT_TRUE(config_events_of(out, unrelated.pid).empty());
}

TEST(ConfigOpen, DockerdReadingItsOwnConfigIsNotADependency) {
  TempDir dir;
  std::string etc = dir.file("etc-docker");
  mkdir(etc.c_str(), 0755);
  write_file(etc + "/daemon.json", "{}\n");
  // cat under the name dockerd, where a package would install it:
  // excluded by the default exclude.executables.
  TrustedDir installed;
  std::string fake_dockerd = installed.install("/bin/cat", "dockerd");
  Agent agent({"--watch-config-path", etc});
  // TRIGGER: dockerd reads its own configuration.
  auto run = run_process({fake_dockerd, etc + "/daemon.json"});
  // Positive control: the same read by another program is reported.
  auto control = run_process({"/bin/cat", etc + "/daemon.json"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  EXPECT_TRUE(config_events_of(out, run.pid).empty());
  EXPECT_EQ(config_events_of(out, control.pid).size(), 1u) << out.log;
}

// A file renamed into the configuration writes it without opening it there:
// `mv` of a prepared daemon.json, or an editor's atomic replace.
TEST(ConfigOpen, RenamesIntoWatchedConfigurationAreWrites) {
  TempDir dir;
  std::string etc = dir.file("etc-docker");
  std::string lookalike = dir.file("etc-docker-old");
  std::string defaults_dir = dir.file("default");
  std::string defaults = defaults_dir + "/docker";
  for (const auto &d : {etc, lookalike, defaults_dir})
    mkdir(d.c_str(), 0755);
  write_file(defaults, "DOCKER_OPTS=\n");
  for (const char *name : {"a.json", "b.json", "c.json", "d.json"})
    write_file(dir.file(name), "{}\n");
  Agent agent({"--watch-config-path", etc, "--watch-config-path", defaults});

  // TRIGGER: renames into, beside and near the watched paths.
  auto absolute = run_process({"mv", dir.file("a.json"), etc + "/daemon.json"});
  auto relative = run_process(
      {"sh", "-c", "cd " + etc + " && exec mv " + dir.file("b.json") + " ./mirrors.json"});
  auto replace =
      run_process({"sh", "-c",
                   "cd " + defaults_dir +
                       " && echo 'DOCKER_OPTS=-H' > docker.new && exec mv docker.new docker"});
  auto beside = run_process(
      {"sh", "-c", "cd " + defaults_dir + " && exec mv " + dir.file("c.json") + " other"});
  auto similar = run_process({"mv", dir.file("d.json"), lookalike + "/daemon.json"});
  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  auto a = config_events_of(out, absolute.pid);
  ASSERT_EQ(a.size(), 1u) << out.log;
  EXPECT_EQ(a[0]["event"]["action"], "docker-config-write");
  EXPECT_EQ(a[0]["event"]["outcome"], "success");
  EXPECT_EQ(a[0]["file"]["path"], etc + "/daemon.json");
  EXPECT_EQ(a[0]["shimwatch"]["config"]["watched"], etc);
  EXPECT_EQ(a[0]["shimwatch"]["config"]["operation"], "rename");
  EXPECT_EQ(a[0]["process"]["name"], "mv");

  auto r = config_events_of(out, relative.pid);
  ASSERT_EQ(r.size(), 1u) << out.log;
  EXPECT_EQ(r[0]["file"]["path"], etc + "/mirrors.json");
  EXPECT_EQ(r[0]["shimwatch"]["config"]["operation"], "rename");

  auto p = config_events_of(out, replace.pid);
  ASSERT_EQ(p.size(), 1u) << out.log;
  EXPECT_EQ(p[0]["file"]["path"], defaults);
  EXPECT_EQ(p[0]["shimwatch"]["config"]["watched"], defaults);
  EXPECT_EQ(p[0]["shimwatch"]["config"]["operation"], "rename");

  EXPECT_TRUE(config_events_of(out, beside.pid).empty()) << out.log;
  EXPECT_TRUE(config_events_of(out, similar.pid).empty()) << out.log;
}
