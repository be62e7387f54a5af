// Docker service control with the real agent: systemctl, service and the
// init script acting on Docker are reported with verb and unit; other runs
// of the same programs are not.
//
// systemctl and service reach user space only once the kernel's comm filter
// is loaded from watched_exec_names() (watch.exec plus the managers); the
// init script is named docker, a watched name already.
#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;

namespace {

const std::string service_action = "docker-service-control";
const std::string init_script = "/etc/init.d/docker";

// Runs argv with `program` standing at /etc/init.d/docker: bind-mounted
// there in a mount namespace of the child's own, so that the node's real
// init script (docker.io ships one) is neither run nor touched. When the
// node has none, an empty file is made as the mount point and removed after.
class FakeInitScript {
public:
  explicit FakeInitScript(std::string program) : program_(std::move(program)) {
    namespace fs = std::filesystem;
    if (!fs::exists("/etc/init.d")) {
      fs::create_directories("/etc/init.d");
      created_dir_ = true;
    }
    if (!fs::exists(init_script)) {
      write_file(init_script, "", 0755);
      created_file_ = true;
    }
  }
  ~FakeInitScript() {
    if (created_file_)
      unlink(init_script.c_str());
    if (created_dir_)
      rmdir("/etc/init.d");
  }
  FakeInitScript(const FakeInitScript &) = delete;
  FakeInitScript &operator=(const FakeInitScript &) = delete;

  // unshare execs sh, which execs the script: one pid throughout.
  ProcessResult run(const std::string &verb) const {
    return run_process(
        {"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         "mount --bind \"$0\" " + init_script + " && exec " + init_script + " \"$1\"", program_,
         verb});
  }

private:
  std::string program_;
  bool created_dir_ = false;
  bool created_file_ = false;
};

} // namespace

TEST(ServiceControl, SystemctlRestartDockerFromAUnit) {
  TempDir dir;
  TestCgroup unit("system.slice/docker-upgrade.service");
  std::string systemctl = fake_executable(dir, "systemctl");
  Agent agent;

  // TRIGGER: an upgrade job restarts docker, then only asks for its status.
  auto restart = run_process_in_cgroup(unit.path(), {systemctl, "restart", "docker"});
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  auto status = run_process_in_cgroup(unit.path(), {systemctl, "status", "docker"});
  ASSERT_EQ(status.exit_code, 0) << status.output;

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, restart.pid);
  ASSERT_EQ(events.size(), 1u) << out.log;
  const json &e = events[0];
  EXPECT_EQ(e["event"]["action"], service_action);
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["event"]["category"], json::array({"process"}));
  EXPECT_EQ(e["event"]["type"], json::array({"change"}));
  EXPECT_EQ(e["shimwatch"]["service"]["verb"], "restart");
  EXPECT_EQ(e["shimwatch"]["service"]["unit"], "docker");
  EXPECT_EQ(e["shimwatch"]["service"]["manager"], "systemctl");
  EXPECT_EQ(e["shimwatch"]["exec"]["path"], systemctl);
  EXPECT_EQ(e["process"]["args"], json::array({systemctl, "restart", "docker"}));
  EXPECT_EQ(e["shimwatch"]["origin"]["type"], "systemd_unit");
  EXPECT_EQ(e["shimwatch"]["origin"]["unit"], "docker-upgrade.service");

  EXPECT_TRUE(events_of(out, status.pid).empty()) << "systemctl status docker was reported";
}

TEST(ServiceControl, SystemctlOptionsAndOtherUnits) {
  TempDir dir;
  std::string systemctl = fake_executable(dir, "systemctl");
  Agent agent;

  // TRIGGER
  auto enable = run_process({systemctl, "--now", "enable", "docker.socket"});
  auto both = run_process({systemctl, "restart", "containerd", "docker"});
  auto other = run_process({systemctl, "restart", "containerd"});
  auto none = run_process({systemctl});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto e = events_of(out, enable.pid, service_action);
  ASSERT_EQ(e.size(), 1u) << out.log;
  EXPECT_EQ(e[0]["shimwatch"]["service"]["verb"], "enable");
  EXPECT_EQ(e[0]["shimwatch"]["service"]["unit"], "docker.socket");
  e = events_of(out, both.pid, service_action);
  ASSERT_EQ(e.size(), 1u) << out.log;
  EXPECT_EQ(e[0]["shimwatch"]["service"]["unit"], "docker");
  EXPECT_TRUE(events_of(out, other.pid).empty());
  EXPECT_TRUE(events_of(out, none.pid).empty());
}

TEST(ServiceControl, ServiceDockerStop) {
  TempDir dir;
  std::string service = fake_executable(dir, "service");
  Agent agent;

  // TRIGGER
  auto stop = run_process({service, "docker", "stop"});
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  auto status = run_process({service, "docker", "status"});

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, stop.pid);
  ASSERT_EQ(events.size(), 1u) << out.log;
  EXPECT_EQ(events[0]["event"]["action"], service_action);
  EXPECT_EQ(events[0]["shimwatch"]["service"]["verb"], "stop");
  EXPECT_EQ(events[0]["shimwatch"]["service"]["unit"], "docker");
  EXPECT_EQ(events[0]["shimwatch"]["service"]["manager"], "service");
  EXPECT_TRUE(events_of(out, status.pid).empty());
}

TEST(ServiceControl, InitScriptStart) {
  TempDir dir;
  FakeInitScript script(fake_executable(dir, "true"));
  Agent agent;

  // TRIGGER: /etc/init.d/docker start (a binary here: argv is the script's own).
  auto start = script.run("start");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  auto status = script.run("status");
  ASSERT_EQ(status.exit_code, 0) << status.output;

  // ASSERT: named docker, but never a docker CLI exec.
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, start.pid);
  ASSERT_EQ(events.size(), 1u) << out.log;
  const json &e = events[0];
  EXPECT_EQ(e["event"]["action"], service_action);
  EXPECT_EQ(e["event"]["outcome"], "success");
  EXPECT_EQ(e["shimwatch"]["service"]["verb"], "start");
  EXPECT_EQ(e["shimwatch"]["service"]["unit"], "docker");
  EXPECT_EQ(e["shimwatch"]["service"]["manager"], "init-script");
  EXPECT_EQ(e["shimwatch"]["exec"]["path"], init_script);
  EXPECT_EQ(e["process"]["name"], "docker");
  EXPECT_TRUE(events_of(out, status.pid).empty()) << "init script status was reported";
}

TEST(ServiceControl, InitScriptRunThroughItsInterpreter) {
  TempDir dir;
  std::string script_file = dir.file("docker-init");
  write_file(script_file, "#!/bin/sh\nexit 0\n", 0755);
  FakeInitScript script(script_file);
  Agent agent;

  // TRIGGER: a real shell script: the kernel hands over [sh, script, verb].
  auto stop = script.run("stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.output;

  // ASSERT
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  auto events = events_of(out, stop.pid);
  ASSERT_EQ(events.size(), 1u) << out.log;
  const json &e = events[0];
  EXPECT_EQ(e["event"]["action"], service_action);
  EXPECT_EQ(e["shimwatch"]["service"]["verb"], "stop");
  EXPECT_EQ(e["shimwatch"]["service"]["unit"], "docker");
  EXPECT_EQ(e["process"]["args"], json::array({"/bin/sh", init_script, "stop"}));
}
