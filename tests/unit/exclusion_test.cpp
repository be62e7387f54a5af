// Exclusion: the agent itself, the runtimes and the kubelet are not
// dependencies; their watched calls are left out and counted by rule.
#include <gtest/gtest.h>

#include "test_files.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "http_client.hpp"
#include "shimwatch/classify.hpp"
#include "shimwatch/text.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/metrics.hpp"

using shimwatch::Action;
using shimwatch::Classifier;
using shimwatch::Config;
using shimwatch::Event;
using shimwatch::only_root_can_replace;
using shimwatch::SelfIdentity;
using shimwatch::Verdict;
using strings = std::vector<std::string>;

namespace {

constexpr uint32_t host_pid_ns = 4026531836u;
constexpr uint32_t host_mnt_ns = 4026531841u;

SelfIdentity agent_identity() {
  return SelfIdentity{4242, host_pid_ns, host_mnt_ns, "/usr/local/bin/shimwatch", host_mnt_ns};
}

// Stands for the file system check (only_root_can_replace, tested below):
// what lies under /tmp, /home or /dev/shm is anyone's; the rest only root's.
bool root_only_outside_user_dirs(const Event &e) {
  const std::string &exe = e.process.executable;
  return e.mnt_ns == host_mnt_ns && exe.rfind("/tmp/", 0) != 0 && exe.rfind("/home/", 0) != 0 &&
         exe.rfind("/dev/shm/", 0) != 0;
}

Event connect_from(const std::string &executable, uint32_t pid = 777) {
  Event e;
  e.action = Action::docker_socket_connect;
  e.socket_path = "/var/run/docker.sock";
  e.process.pid = pid;
  e.process.tid = pid;
  e.process.executable = executable;
  e.process.name = std::string(shimwatch::basename_of(executable)).substr(0, 15);
  e.pid_ns = host_pid_ns;
  e.mnt_ns = host_mnt_ns;
  return e;
}

TEST(Exclusion, ANameAnyoneCanPickDoesNotExcludeButMarksTheEvent) {
  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  // A copy of a client saved as kubelet where anyone may write.
  for (const char *exe : {"/tmp/kubelet", "/home/eve/bin/dockerd", "/dev/shm/containerd-shim-x"}) {
    Event e = connect_from(exe);
    Verdict v = classifier.accept(e);
    EXPECT_TRUE(v) << exe << " was left out as " << v.rule;
    EXPECT_EQ(classifier.excluded_by(e), "") << exe;
    EXPECT_FALSE(e.impersonates.empty()) << exe;
  }
  Event e = connect_from("/tmp/kubelet");
  ASSERT_TRUE(classifier.accept(e));
  EXPECT_EQ(e.impersonates, "kubelet");
  // The node's kubelet seen from another mount namespace (a container that
  // ships a file of that path) is not the node's.
  Event contained = connect_from("/usr/bin/kubelet");
  contained.mnt_ns = host_mnt_ns + 1;
  EXPECT_TRUE(classifier.accept(contained));
  EXPECT_EQ(contained.impersonates, "kubelet");
  // Positive control: the node's own.
  Event real = connect_from("/usr/bin/kubelet");
  EXPECT_TRUE(classifier.accept(real).excluded());
  EXPECT_EQ(real.impersonates, "");
  // A process not named like an excluded one is not marked.
  Event other = connect_from("/tmp/agent");
  EXPECT_TRUE(classifier.accept(other));
  EXPECT_EQ(other.impersonates, "");
}

TEST(Exclusion, WithoutAnInjectedCheckTheMountNamespaceAndTheFileSystemDecide) {
  // A process without a known mount namespace: not trusted.
  Classifier classifier_for_unknown(shimwatch::default_config(), agent_identity());
  Event unknown = connect_from("/usr/bin/dockerd");
  unknown.mnt_ns = 0;
  EXPECT_EQ(classifier_for_unknown.excluded_by(unknown), "");
  // Another mount namespace: never trusted, whatever the path.
  Classifier classifier(shimwatch::default_config(), agent_identity());
  Event contained = connect_from("/usr/bin/env");
  contained.mnt_ns = host_mnt_ns + 7;
  EXPECT_EQ(classifier.impersonated(contained), "");
  shimwatch::Config c = shimwatch::default_config();
  c.exclude.executables = {"env", "sh"};
  Classifier custom(c, agent_identity());
  contained.process.executable = "/usr/bin/env";
  EXPECT_EQ(custom.impersonated(contained), "env");
}

TEST(OnlyRootCanReplace, SystemBinariesYesAnythingUnderAWorldWritableDirectoryNo) {
  EXPECT_TRUE(only_root_can_replace("/usr/bin/env"));
  swtest::TempFile copy("#!/bin/sh\n");
  EXPECT_FALSE(only_root_can_replace(copy.path())) << "/tmp may be written by anyone";
  EXPECT_FALSE(only_root_can_replace("/usr/bin")) << "a directory is no executable";
  EXPECT_FALSE(only_root_can_replace("/usr/bin/../bin/env"));
  EXPECT_FALSE(only_root_can_replace("usr/bin/env"));
  EXPECT_FALSE(only_root_can_replace(""));
  EXPECT_FALSE(only_root_can_replace("/usr/bin/no-such-binary-here"));
}

TEST(Exclusion, DefaultsAreTheRuntimesAndTheKubeletButNotCriDockerd) {
  Config c = shimwatch::default_config();
  EXPECT_TRUE(c.exclude.self);
  EXPECT_EQ(c.exclude.executables,
            (strings{"dockerd", "containerd", "containerd-shim*", "kubelet"}));
  EXPECT_TRUE(c.exclude.units.empty());
  EXPECT_TRUE(c.exclude.comms.empty());

  Classifier classifier(c, agent_identity(), root_only_outside_user_dirs);
  for (const char *exe : {"/usr/bin/dockerd", "/usr/bin/containerd", "/usr/bin/containerd-shim",
                          "/usr/bin/containerd-shim-runc-v2", "/usr/local/bin/kubelet"}) {
    Verdict v = classifier.accept(connect_from(exe));
    EXPECT_TRUE(v.excluded()) << exe;
  }
  // cri-dockerd reaching docker.sock is the kubelet still running on Docker.
  EXPECT_TRUE(classifier.accept(connect_from("/usr/bin/cri-dockerd")));
  EXPECT_TRUE(classifier.accept(connect_from("/usr/bin/docker")));
}

TEST(Exclusion, RuleNamesThePattern) {
  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/bin/containerd-shim-runc-v2")),
            "executable:containerd-shim*");
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/bin/dockerd")), "executable:dockerd");
  Verdict v = classifier.accept(connect_from("/usr/bin/kubelet"));
  EXPECT_EQ(v.kind, Verdict::Kind::excluded);
  EXPECT_EQ(v.rule, "executable:kubelet");
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/bin/docker")), "");
}

TEST(Exclusion, ExecutablesMatchBasenameOrFullPath) {
  Config c = shimwatch::default_config();
  c.exclude.executables = {"/opt/vendor/*", "helper"};
  Classifier classifier(c, agent_identity(), root_only_outside_user_dirs);
  EXPECT_EQ(classifier.excluded_by(connect_from("/opt/vendor/bin/scan")),
            "executable:/opt/vendor/*");
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/lib/x/helper")), "executable:helper");
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/lib/x/helper2")), "");
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/bin/dockerd")), ""); // replaced the defaults
  // An empty executable matches nothing, not even "*".
  c.exclude.executables = {"*"};
  Classifier all(c, agent_identity(), root_only_outside_user_dirs);
  EXPECT_EQ(all.excluded_by(connect_from("")), "");
}

TEST(Exclusion, OnlyTheProcessItselfNotItsAncestors) {
  // A pod's docker ps descends from containerd-shim; the kubelet's exec
  // probes from the kubelet. Those are dependencies.
  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  Event e;
  e.action = Action::docker_cli_exec;
  e.exec_path = e.process.executable = "/usr/bin/docker";
  e.process.name = "docker";
  e.process.args = {"docker", "ps"};
  e.process.ancestry = {{1, 0, 0, "containerd-shim", "/usr/bin/containerd-shim-runc-v2"},
                        {2, 0, 0, "kubelet", "/usr/bin/kubelet"}};
  EXPECT_TRUE(classifier.accept(e));
}

TEST(Exclusion, Comms) {
  Config c = shimwatch::default_config();
  c.exclude.comms = {"node_export*"};
  Classifier classifier(c, agent_identity(), root_only_outside_user_dirs);
  Event e = connect_from("/bin/node_exporter");
  EXPECT_EQ(classifier.excluded_by(e), "comm:node_export*");
  e.process.name = "other";
  EXPECT_EQ(classifier.excluded_by(e), "");
}

// Before attribution, the unit comes from the cgroup path: the pipeline
// places the event first (Pipeline.ExclusionByUnitLooksAtTheCgroupPathBeforeAttribution).
TEST(Exclusion, UnitsOfTheOrigin) {
  Config c = shimwatch::default_config();
  c.exclude.units = {"backup*.service"};
  Classifier classifier(c, agent_identity(), root_only_outside_user_dirs);
  Event e = connect_from("/usr/bin/restic");
  e.origin.cgroup.unit = "backup-nightly.service";
  EXPECT_EQ(classifier.excluded_by(e), "unit:backup*.service");
  Verdict v = classifier.accept(e);
  EXPECT_TRUE(v.excluded());
  EXPECT_EQ(v.rule, "unit:backup*.service");
  e.origin.cgroup.unit = "cron.service";
  EXPECT_EQ(classifier.excluded_by(e), "");
  e.origin.cgroup.unit = "backup-weekly.service";
  EXPECT_EQ(classifier.excluded_by(e), "unit:backup*.service");
}

TEST(Exclusion, SelfByPidAllThreads) {
  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  Event e = connect_from("/usr/local/bin/shimwatch", 4242);
  e.process.tid = 4250; // another thread of the agent
  Verdict v = classifier.accept(e);
  EXPECT_TRUE(v.excluded());
  EXPECT_EQ(v.rule, "self");
  // The same pid number in another pid namespace is not the agent.
  e.pid_ns = 4026532999u;
  e.process.executable = "/usr/bin/python3";
  EXPECT_EQ(classifier.excluded_by(e), "");
  // Another process on the host is not the agent.
  EXPECT_EQ(classifier.excluded_by(connect_from("/usr/bin/python3", 4243)), "");
}

TEST(Exclusion, SelfInItsOwnContainerByExecutableAndNamespaces) {
  // In a container without hostPID, getpid() is not the pid the probes see.
  const uint32_t pod_pid_ns = 4026532500u, pod_mnt_ns = 4026532501u;
  Classifier classifier(shimwatch::default_config(),
                        SelfIdentity{1, pod_pid_ns, pod_mnt_ns, "/usr/bin/shimwatch"});
  Event e = connect_from("/usr/bin/shimwatch", 31337);
  e.pid_ns = pod_pid_ns;
  e.mnt_ns = pod_mnt_ns;
  EXPECT_EQ(classifier.excluded_by(e), "self");
  // The same path in another container is someone else.
  e.mnt_ns = 4026532777u;
  EXPECT_EQ(classifier.excluded_by(e), "");
  // pid 1 on the host is not the agent that is pid 1 in its container.
  Event init = connect_from("/sbin/init", 1);
  EXPECT_EQ(classifier.excluded_by(init), "");
}

TEST(Exclusion, SelfCanBeTurnedOff) {
  Config c = shimwatch::default_config();
  c.exclude.self = false;
  Classifier classifier(c, agent_identity(), root_only_outside_user_dirs);
  EXPECT_TRUE(classifier.accept(connect_from("/usr/local/bin/shimwatch", 4242)));
}

TEST(Exclusion, OnlyWatchedCallsCountAsExcluded) {
  // dockerd's exec of something unwatched is filtered, not excluded.
  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  Event e = connect_from("/usr/bin/dockerd");
  e.socket_path = "/run/containerd/containerd.sock"; // off by default
  EXPECT_EQ(classifier.accept(e).kind, Verdict::Kind::filtered);
}

TEST(Exclusion, CurrentIdentityIsThisProcess) {
  SelfIdentity self = SelfIdentity::current();
  EXPECT_NE(self.pid, 0u);
  struct stat st {};
  ASSERT_EQ(stat("/proc/self/ns/pid", &st), 0);
  EXPECT_EQ(self.pid_ns, static_cast<uint32_t>(st.st_ino));
  EXPECT_FALSE(self.executable.empty());
  // Events of this very process are "self" for a classifier built here.
  Classifier classifier(shimwatch::default_config());
  Event e = connect_from(self.executable, self.pid);
  e.pid_ns = self.pid_ns;
  e.mnt_ns = self.mnt_ns;
  EXPECT_EQ(classifier.excluded_by(e), "self");
}

TEST(ExclusionMetrics, CountedByRuleAndCapped) {
  int port = swtest::free_port();
  auto metrics = shimwatch::Metrics::start(
      "127.0.0.1:" + std::to_string(port), [] { return shimwatch::KernelCounters{}; }, 3);
  ASSERT_TRUE(metrics.ok()) << metrics.error().message;
  // Before any: the self series is there at 0.
  std::string body = swtest::http_get(port, "/metrics");
  EXPECT_NE(body.find("shimwatch_events_excluded_total{rule=\"self\"} 0"), std::string::npos)
      << body;

  Classifier classifier(shimwatch::default_config(), agent_identity(), root_only_outside_user_dirs);
  for (const char *exe : {"/usr/bin/kubelet", "/usr/bin/kubelet", "/usr/bin/dockerd",
                          "/usr/bin/containerd", "/usr/bin/docker"}) {
    Verdict v = classifier.accept(connect_from(exe));
    if (v.excluded())
      (*metrics)->count_excluded(v.rule);
  }
  body = swtest::http_get(port, "/metrics");
  EXPECT_NE(body.find("shimwatch_events_excluded_total{rule=\"executable:kubelet\"} 2"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("shimwatch_events_excluded_total{rule=\"executable:dockerd\"} 1"),
            std::string::npos)
      << body;
  // The cap (3 series: self, kubelet, dockerd) folds the fourth rule.
  EXPECT_NE(body.find("shimwatch_events_excluded_total{rule=\"other\"} 1"), std::string::npos)
      << body;
  EXPECT_NE(body.find("shimwatch_metrics_series_folded_total{family=\"shimwatch_events_excluded_"
                      "total\"} 1"),
            std::string::npos)
      << body;
}

} // namespace
