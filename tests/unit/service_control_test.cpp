// Docker service control: systemctl, service and init scripts acting on
// Docker's units are docker-service-control events, with verb and unit;
// other runs of the same programs are not reported.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shimwatch/classify.hpp"
#include "shimwatch/text.hpp"
#include "shimwatch/config.hpp"

using shimwatch::Action;
using shimwatch::Classifier;
using shimwatch::Config;
using shimwatch::Event;
using shimwatch::Verdict;
using strings = std::vector<std::string>;

namespace {

// An exec as the decode stage hands it over: every exec is docker-cli-exec.
Event exec_of(const std::string &exec_path, strings args, const std::string &comm = "") {
  Event e;
  e.action = Action::docker_cli_exec;
  e.exec_path = exec_path;
  e.process.executable = exec_path;
  e.process.name = comm.empty() ? std::string(shimwatch::basename_of(exec_path)) : comm;
  e.process.args = std::move(args);
  return e;
}

struct Case {
  std::string exec_path;
  strings args;
  bool reported;
  std::string verb, unit, manager; // when reported
};

Case no(const std::string &exec_path, strings args) {
  return {exec_path, std::move(args), false, "", "", ""};
}

void expect_case(const Classifier &classifier, const Case &c) {
  std::string shown;
  for (const auto &a : c.args)
    shown += a + " ";
  SCOPED_TRACE(c.exec_path + ": " + shown);
  Event e = exec_of(c.exec_path, c.args);
  Verdict v = classifier.accept(e);
  if (!c.reported) {
    EXPECT_EQ(v.kind, Verdict::Kind::filtered);
    return;
  }
  ASSERT_EQ(v.kind, Verdict::Kind::accepted) << v.rule;
  EXPECT_EQ(e.action, Action::docker_service_control);
  EXPECT_EQ(e.service_verb, c.verb);
  EXPECT_EQ(e.service_unit, c.unit);
  EXPECT_EQ(e.service_manager, c.manager);
}

const std::string systemctl = "/usr/bin/systemctl";
const std::string service = "/usr/sbin/service";
const std::string init_script = "/etc/init.d/docker";

TEST(ServiceControl, Systemctl) {
  Classifier classifier(shimwatch::default_config());
  const std::vector<Case> cases = {
      {systemctl, {"systemctl", "restart", "docker"}, true, "restart", "docker", "systemctl"},
      {systemctl,
       {"systemctl", "stop", "docker.service"},
       true,
       "stop",
       "docker.service",
       "systemctl"},
      no(systemctl, {"systemctl", "status", "docker"}),
      no(systemctl, {"systemctl", "is-active", "docker"}),
      no(systemctl, {"systemctl", "show", "docker.service"}),
      no(systemctl, {"systemctl", "daemon-reload"}),
      no(systemctl, {"systemctl"}),
      no(systemctl, {"systemctl", "restart"}),
      no(systemctl, {"systemctl", "restart", "containerd"}),
      no(systemctl, {"systemctl", "restart", "dockerd"}),
      // Several units: the first watched one.
      {systemctl,
       {"systemctl", "restart", "containerd", "docker"},
       true,
       "restart",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "stop", "docker.socket", "docker.service"},
       true,
       "stop",
       "docker.socket",
       "systemctl"},
      // Options anywhere, with or without values.
      {systemctl,
       {"systemctl", "--now", "enable", "docker.socket"},
       true,
       "enable",
       "docker.socket",
       "systemctl"},
      {systemctl,
       {"systemctl", "enable", "--now", "docker"},
       true,
       "enable",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "disable", "docker", "--now"},
       true,
       "disable",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "-q", "--no-block", "restart", "docker"},
       true,
       "restart",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "--user", "restart", "docker"},
       true,
       "restart",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "kill", "-s", "HUP", "docker"},
       true,
       "kill",
       "docker",
       "systemctl"},
      {systemctl, {"systemctl", "kill", "-sHUP", "docker"}, true, "kill", "docker", "systemctl"},
      {systemctl,
       {"systemctl", "-qs", "HUP", "kill", "docker"},
       true,
       "kill",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "--signal", "HUP", "kill", "docker"},
       true,
       "kill",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "--signal=HUP", "kill", "docker"},
       true,
       "kill",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "-H", "root@node-2", "restart", "docker"},
       true,
       "restart",
       "docker",
       "systemctl"},
      // A value that looks like a verb is still a value.
      no(systemctl, {"systemctl", "--job-mode", "restart", "status", "docker"}),
      no(systemctl, {"systemctl", "-t", "service", "list-units", "docker"}),
      {systemctl, {"systemctl", "--", "restart", "docker"}, true, "restart", "docker", "systemctl"},
      {systemctl,
       {"systemctl", "mask", "docker.socket"},
       true,
       "mask",
       "docker.socket",
       "systemctl"},
      {systemctl,
       {"systemctl", "try-restart", "docker"},
       true,
       "try-restart",
       "docker",
       "systemctl"},
      {systemctl,
       {"systemctl", "reload-or-restart", "docker"},
       true,
       "reload-or-restart",
       "docker",
       "systemctl"},
      // argv[0] as a full path.
      {"/bin/systemctl",
       {"/bin/systemctl", "start", "docker"},
       true,
       "start",
       "docker",
       "systemctl"},
  };
  for (const auto &c : cases)
    expect_case(classifier, c);
}

TEST(ServiceControl, Service) {
  Classifier classifier(shimwatch::default_config());
  const std::vector<Case> cases = {
      {service, {"service", "docker", "restart"}, true, "restart", "docker", "service"},
      {service, {"service", "docker", "stop"}, true, "stop", "docker", "service"},
      {service, {"service", "docker", "force-reload"}, true, "force-reload", "docker", "service"},
      {service, {"service", "docker", "--full-restart"}, true, "restart", "docker", "service"},
      no(service, {"service", "docker", "status"}),
      no(service, {"service", "docker"}),
      no(service, {"service", "containerd", "restart"}),
      no(service, {"service", "--status-all"}),
      no(service, {"service"}),
      // service is a shell script: the kernel hands over the interpreter's argv.
      {service,
       {"/bin/sh", "/usr/sbin/service", "docker", "restart"},
       true,
       "restart",
       "docker",
       "service"},
      {service,
       {"/bin/sh", "-e", "/usr/sbin/service", "docker", "start"},
       true,
       "start",
       "docker",
       "service"},
  };
  for (const auto &c : cases)
    expect_case(classifier, c);
}

TEST(ServiceControl, InitScript) {
  Classifier classifier(shimwatch::default_config());
  const std::vector<Case> cases = {
      {init_script, {"/etc/init.d/docker", "stop"}, true, "stop", "docker", "init-script"},
      {init_script, {"/etc/init.d/docker", "start"}, true, "start", "docker", "init-script"},
      {init_script,
       {"/etc/init.d/docker", "force-reload"},
       true,
       "force-reload",
       "docker",
       "init-script"},
      // Run through its #! line: argv is [interpreter, script, verb].
      {init_script,
       {"/bin/sh", "/etc/init.d/docker", "restart"},
       true,
       "restart",
       "docker",
       "init-script"},
      no(init_script, {"/etc/init.d/docker", "status"}),
      no(init_script, {"/etc/init.d/docker"}),
  };
  for (const auto &c : cases)
    expect_case(classifier, c);
}

TEST(ServiceControl, AnInitScriptIsNeverTheDockerCli) {
  // /etc/init.d/docker has comm "docker", a watched exec name; it is known by its path.
  Classifier classifier(shimwatch::default_config());
  Event e = exec_of(init_script, {"/bin/sh", "/etc/init.d/docker", "status"});
  e.process.executable = "/usr/bin/dash"; // a script's executable is its interpreter
  EXPECT_EQ(classifier.accept(e).kind, Verdict::Kind::filtered);
  e.process.args = {"/bin/sh", "/etc/init.d/docker", "stop"};
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_service_control);

  // The docker CLI elsewhere, even as a script, is still the docker CLI.
  Event cli = exec_of("/usr/local/bin/docker", {"/bin/sh", "/usr/local/bin/docker", "ps"});
  ASSERT_TRUE(classifier.accept(cli));
  EXPECT_EQ(cli.action, Action::docker_cli_exec);
  EXPECT_EQ(cli.service_verb, "");
}

TEST(ServiceControl, CommStandsForAnUnusablePath) {
  Classifier classifier(shimwatch::default_config());
  Event e = exec_of("", {"systemctl", "restart", "docker"}, "systemctl");
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_service_control);
  Event fd = exec_of("/dev/fd/3", {"systemctl", "stop", "docker"}, "systemctl");
  ASSERT_TRUE(classifier.accept(fd));
  EXPECT_EQ(fd.service_verb, "stop");
}

TEST(ServiceControl, DockerCliIsStillDockerCli) {
  Classifier classifier(shimwatch::default_config());
  Event e = exec_of("/usr/bin/docker", {"docker", "restart", "docker"});
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_cli_exec);
}

TEST(ServiceControl, ConfiguredManagersUnitsAndVerbs) {
  Config config = shimwatch::default_config();
  config.service_control.managers = {"systemctl", "rc-service"};
  config.service_control.units = {"docker", "docker-custom.service"};
  config.service_control.verbs = {"restart"};
  Classifier classifier(config);
  const std::vector<Case> cases = {
      {"/sbin/rc-service",
       {"rc-service", "docker", "restart"},
       true,
       "restart",
       "docker",
       "rc-service"},
      {systemctl,
       {"systemctl", "restart", "docker-custom.service"},
       true,
       "restart",
       "docker-custom.service",
       "systemctl"},
      no(systemctl, {"systemctl", "stop", "docker"}),
      no(systemctl, {"systemctl", "restart", "docker.service"}),
      no(service, {"service", "docker", "restart"}), // not a manager any more
  };
  for (const auto &c : cases)
    expect_case(classifier, c);
}

TEST(ServiceControl, DisabledReportsNoneOfThem) {
  Config config = shimwatch::default_config();
  config.service_control.enabled = false;
  Classifier classifier(config);
  EXPECT_FALSE(classifier.accept(exec_of(systemctl, {"systemctl", "restart", "docker"})));
  EXPECT_FALSE(classifier.accept(exec_of(service, {"service", "docker", "restart"})));
  EXPECT_FALSE(classifier.accept(exec_of(init_script, {"/etc/init.d/docker", "stop"})));
  EXPECT_TRUE(classifier.accept(exec_of("/usr/bin/docker", {"docker", "ps"})));
}

TEST(ServiceControl, KernelFilterNamesIncludeManagersAndScripts) {
  Config config = shimwatch::default_config();
  EXPECT_EQ(shimwatch::watched_exec_names(config),
            (strings{"docker", "docker-compose", "systemctl", "service"}));
  config.service_control.init_scripts = {"/etc/init.d/docker", "/etc/rc.d/rc.docker"};
  config.watch_exec.push_back("service");
  EXPECT_EQ(shimwatch::watched_exec_names(config),
            (strings{"docker", "docker-compose", "service", "systemctl", "rc.docker"}));
  config.service_control.enabled = false;
  EXPECT_EQ(shimwatch::watched_exec_names(config),
            (strings{"docker", "docker-compose", "service"}));
}

TEST(ServiceControl, AManagerIsNeverTheDockerCliEvenWhenWatchedAsExec) {
  Config config = shimwatch::default_config();
  config.watch_exec.push_back("systemctl");
  Classifier classifier(config);
  EXPECT_EQ(classifier.accept(exec_of(systemctl, {"systemctl", "status", "docker"})).kind,
            Verdict::Kind::filtered);
  Event e = exec_of(systemctl, {"systemctl", "stop", "docker"});
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.action, Action::docker_service_control);
}

} // namespace
