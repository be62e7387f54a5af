// The manifest corpus in tests/scan/corpus: every file's findings (and
// errors) are exactly those its .expected file lists, one per line:
//   <severity> <rule> <workload id> <container or -> <field>
//   error <line>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scan/manifest_loader.hpp"
#include "scan/scan_output.hpp"
#include "scan/workload_scan.hpp"

namespace shimwatch::scan {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() {
  return fs::path(__FILE__).parent_path().parent_path() / "scan" / "corpus";
}

std::vector<std::string> describe(const ScanReport &report) {
  std::vector<std::string> lines;
  for (const auto &f : report.findings)
    lines.push_back(std::string(severity_name(f.severity)) + " " + f.rule + " " + f.workload_id +
                    " " + (f.container.empty() ? "-" : f.container) + " " + f.field);
  for (const auto &e : report.errors)
    lines.push_back("error " + std::to_string(e.line));
  std::sort(lines.begin(), lines.end());
  return lines;
}

ScanReport scan_paths(const std::vector<std::string> &paths) {
  LoadedManifests loaded;
  std::istringstream no_stdin;
  EXPECT_TRUE(load_manifests(paths, no_stdin, loaded).ok());
  ScanReport report;
  report.errors = loaded.errors;
  scan_objects(loaded.objects, report);
  return report;
}

std::vector<fs::path> expected_files() {
  std::vector<fs::path> files;
  for (const auto &entry : fs::recursive_directory_iterator(corpus_dir()))
    if (entry.path().extension() == ".expected")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ScanCorpus, EveryFileGivesExactlyItsExpectedFindings) {
  auto files = expected_files();
  ASSERT_GE(files.size(), 20u);
  for (const auto &expected_file : files) {
    fs::path manifest = expected_file;
    manifest.replace_extension(); // x.yaml.expected -> x.yaml
    SCOPED_TRACE(manifest.string());
    ASSERT_TRUE(fs::exists(manifest));
    std::vector<std::string> expected;
    std::ifstream in(expected_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty())
        expected.push_back(line);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(describe(scan_paths({manifest.string()})), expected);
  }
}

TEST(ScanCorpus, TheWholeDirectoryScansPastBrokenFiles) {
  ScanReport report = scan_paths({corpus_dir().string()});
  std::vector<std::string> expected;
  for (const auto &expected_file : expected_files()) {
    std::ifstream in(expected_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty())
        expected.push_back(line);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(describe(report), expected);
  ASSERT_EQ(report.errors.size(), 2u);
  for (const auto &error : report.errors)
    EXPECT_TRUE(error.input.find("malformed.") != std::string::npos) << error.input;
}

const Workload *find_workload(const ScanReport &report, const std::string &id) {
  for (const auto &w : report.workloads)
    if (w.id == id)
      return &w;
  return nullptr;
}

TEST(ScanCorpus, WorkloadStatesAndStaticPods) {
  ScanReport report = scan_paths({corpus_dir().string()});
  const Workload *cron = find_workload(report, "ops/CronJob/image-cleanup");
  ASSERT_NE(cron, nullptr);
  EXPECT_EQ(cron->state, "suspended");
  EXPECT_EQ(cron->max_severity, Severity::high);

  const Workload *zero = find_workload(report, "ci/Deployment/legacy-builder");
  ASSERT_NE(zero, nullptr);
  EXPECT_EQ(zero->state, "scaled-to-zero");
  ASSERT_TRUE(zero->replicas.has_value());
  EXPECT_EQ(*zero->replicas, 0);
  ASSERT_EQ(zero->socket_mounts.size(), 1u);
  EXPECT_EQ(zero->socket_mounts[0].socket_path, "/var/run/docker.sock");

  const Workload *static_file = find_workload(report, "kube-system/Pod/node-debugger");
  ASSERT_NE(static_file, nullptr);
  EXPECT_TRUE(static_file->static_pod);
  EXPECT_EQ(static_file->agent_workload.kind, "Node");

  const Workload *mirror = find_workload(report, "kube-system/Pod/image-gc-node-1");
  ASSERT_NE(mirror, nullptr);
  EXPECT_TRUE(mirror->static_pod);
  EXPECT_EQ(mirror->agent_workload.kind, "Node");
  EXPECT_EQ(mirror->agent_workload.name, "node-1");

  const Workload *bare = find_workload(report, "ops/Pod/container-janitor");
  ASSERT_NE(bare, nullptr);
  EXPECT_FALSE(bare->static_pod);
  EXPECT_TRUE(bare->agent_workload.kind.empty());

  const Workload *parent = find_workload(report, "logging/DaemonSet/log-shipper");
  ASSERT_NE(parent, nullptr);
  ASSERT_EQ(parent->socket_mounts.size(), 1u);
  EXPECT_EQ(parent->socket_mounts[0].socket_path, "/host/run/docker.sock");

  const Workload *clean = find_workload(report, "logging/DaemonSet/log-agent");
  ASSERT_NE(clean, nullptr);
  EXPECT_TRUE(clean->findings.empty());
  EXPECT_TRUE(clean->socket_mounts.empty());
}

TEST(ScanCorpus, OwnerChainsAndSources) {
  ScanReport report = scan_paths({(corpus_dir() / "list.yaml").string()});
  ASSERT_EQ(report.workloads.size(), 1u);
  const Workload &web = report.workloads[0];
  EXPECT_EQ(web.id, "shop/Deployment/web");
  EXPECT_EQ(web.sources.size(), 3u);
  EXPECT_EQ(web.pods, std::vector<std::string>{"web-7d4b9c8f6d-x2x7p"});
  const Finding *ephemeral = nullptr;
  for (const auto &f : report.findings)
    if (f.container_type == "ephemeralContainer")
      ephemeral = &f;
  ASSERT_NE(ephemeral, nullptr);
  ASSERT_EQ(ephemeral->owner_chain.size(), 3u);
  EXPECT_EQ(ephemeral->owner_chain[0].kind, "Pod");
  EXPECT_EQ(ephemeral->owner_chain[1].name, "web-7d4b9c8f6d");
  EXPECT_EQ(ephemeral->owner_chain[2].kind, "Deployment");
  EXPECT_EQ(ephemeral->source.document, 1);

  ScanReport helm = scan_paths({(corpus_dir() / "helm-output.yaml").string()});
  ASSERT_EQ(helm.findings.size(), 1u);
  EXPECT_EQ(helm.findings[0].source.helm_template, "monitoring-agent/templates/daemonset.yaml");
  EXPECT_EQ(helm.findings[0].source.document, 3);
}

TEST(ScanCorpus, BrokenFilesSayWhereAndWhy) {
  ScanReport yaml = scan_paths({(corpus_dir() / "malformed.yaml").string()});
  ASSERT_EQ(yaml.errors.size(), 1u);
  EXPECT_NE(yaml.errors[0].input.find("malformed.yaml"), std::string::npos);
  EXPECT_NE(yaml.errors[0].message.find("invalid YAML"), std::string::npos);
  ScanReport json = scan_paths({(corpus_dir() / "malformed.json").string()});
  ASSERT_EQ(json.errors.size(), 1u);
  EXPECT_NE(json.errors[0].message.find("invalid JSON"), std::string::npos);
  EXPECT_GT(json.errors[0].column, 0);
}

// A few lines of YAML whose aliases expand to 10^9 values ("billion
// laughs"): an error for that document, the next one still read.
TEST(ScanCorpus, AYamlBombIsAnErrorNotAnOutOfMemory) {
  std::string bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n"
                     "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i)
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + [&] {
      std::string refs;
      for (int j = 0; j < 10; ++j)
        refs += (j ? ", *a" : "*a") + std::to_string(i - 1);
      return refs;
    }() + "]\n";
  bomb += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: after}\n"
          "spec: {containers: [{name: c, image: busybox}]}\n";
  LoadedManifests out;
  parse_manifest_text(bomb, "bomb.yaml", false, out);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].message.find("once its aliases are expanded (a YAML bomb?)"),
            std::string::npos)
      << out.errors[0].message;
  ASSERT_EQ(out.objects.size(), 1u) << "the document after the bomb";
}

// A manifest's strings reach a terminal in the table: an escape sequence
// in a DOCKER_HOST value or a pod name is shown, not run; a line break does
// not start a row of its own.
TEST(ScanCorpus, TheTableShowsEscapeSequencesInsteadOfRunningThem) {
  LoadedManifests loaded;
  parse_manifest_text("apiVersion: v1\nkind: Pod\n"
                      "metadata: {name: \"evil\\e]0;pwned\\a\\nHIGH fake row\"}\n"
                      "spec:\n  containers:\n  - name: c\n    image: docker:cli\n"
                      "    env: [{name: DOCKER_HOST, value: \"tcp://x\\e[2J:2375\"}]\n",
                      "evil.yaml", false, loaded);
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0].message;
  ScanReport report;
  scan_objects(loaded.objects, report);
  ASSERT_FALSE(report.findings.empty());
  const std::string table = scan_to_table(report);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_EQ(table.find('\a'), std::string::npos) << table;
  EXPECT_NE(table.find("evil\\x1b]0;pwned\\x07\\nHIGH fake row"), std::string::npos) << table;
  EXPECT_EQ(table.find("\nHIGH fake row"), std::string::npos) << table;
}

} // namespace
} // namespace shimwatch::scan
