// `shimwatch report --scan`: the real `shimwatch scan -f` over manifests and
// the real report over a trail whose workloads match them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

using namespace swtest;

namespace {

std::string fixture(const std::string &name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "report" / name).string();
}

json read_json(const std::string &path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return json::parse(text.str());
}

const json *row_labelled(const json &report, const std::string &label) {
  for (const auto &row : report["evidence"]["rows"])
    if (row["label"] == label)
      return &row;
  return nullptr;
}

} // namespace

TEST(ReportScan, ScanAndTrailMergeIntoThreeKindsOfEvidence) {
  TempDir dir;
  const std::string scan = dir.file("scan.json");
  const std::string report_file = dir.file("report.json");
  auto scanned =
      run_shimwatch({"scan", "-f", fixture("scan_workloads"), "--format", "json", "-o", scan});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.output;

  auto run = run_shimwatch({"report", "--format", "json", "--scan", scan, "-o", report_file,
                            fixture("scan_merge.jsonl")});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const json report = read_json(report_file);
  ASSERT_TRUE(report.contains("evidence")) << report.dump(2);
  const auto &evidence = report["evidence"];
  EXPECT_EQ(evidence["scan"]["workloads"], 3);
  EXPECT_EQ(evidence["scan"]["workloads_with_findings"], 2);
  EXPECT_EQ(evidence["counts"]["mounted_and_used"], 1);
  EXPECT_EQ(evidence["counts"]["mounted_not_used"], 1);
  EXPECT_EQ(evidence["counts"]["used_without_mount"], 2);

  const json *shipper = row_labelled(report, "logging/DaemonSet/log-shipper");
  ASSERT_NE(shipper, nullptr) << evidence.dump(2);
  EXPECT_EQ((*shipper)["kind"], "mounted_and_used");
  EXPECT_EQ((*shipper)["origins"], json::array({"workload:logging/DaemonSet/log-shipper"}));
  EXPECT_EQ((*shipper)["calls"], 3);
  EXPECT_EQ((*shipper)["findings"][0]["rule"], "docker-socket-mount");
  EXPECT_EQ((*shipper)["findings"][0]["severity"], "high");

  const json *cleanup = row_labelled(report, "ops/CronJob/image-cleanup");
  ASSERT_NE(cleanup, nullptr) << evidence.dump(2);
  EXPECT_EQ((*cleanup)["kind"], "mounted_not_used");
  EXPECT_EQ((*cleanup)["calls"], 0);
  EXPECT_TRUE((*cleanup)["origins"].empty());
  EXPECT_FALSE((*cleanup)["findings"].empty());

  const json *web = row_labelled(report, "shop/Deployment/web");
  ASSERT_NE(web, nullptr) << evidence.dump(2);
  EXPECT_EQ((*web)["kind"], "used_without_mount");
  EXPECT_TRUE((*web)["findings"].empty());

  const json *unit = row_labelled(report, "node-health.service");
  ASSERT_NE(unit, nullptr) << evidence.dump(2);
  EXPECT_EQ((*unit)["kind"], "used_without_mount");
  EXPECT_EQ((*unit)["note"], "host process, no spec");

  for (const auto &origin : report["origins"])
    EXPECT_TRUE(origin["evidence"].is_string()) << origin["id"];

  // The same merge in Markdown and HTML.
  auto markdown = run_shimwatch({"report", "--scan", scan, fixture("scan_merge.jsonl")});
  ASSERT_EQ(markdown.exit_code, 0) << markdown.output;
  EXPECT_NE(markdown.output.find("## Static and runtime evidence"), std::string::npos);
  EXPECT_NE(
      markdown.output.find("| mounted, not used during the window | `ops/CronJob/image-cleanup`"),
      std::string::npos)
      << markdown.output;
  const std::string html = dir.file("report.html");
  auto rendered = run_shimwatch(
      {"report", "--format", "html", "--scan", scan, "-o", html, fixture("scan_merge.jsonl")});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  std::ifstream html_file(html);
  std::stringstream html_text;
  html_text << html_file.rdbuf();
  EXPECT_NE(html_text.str().find("<th>evidence</th>"), std::string::npos);
  EXPECT_NE(html_text.str().find("data-evidence=\"mounted_not_used\""), std::string::npos);
}

TEST(ReportScan, ScanFileThatIsNotAScanExitsTwo) {
  TempDir dir;
  const std::string not_scan = dir.file("not-scan.json");
  std::ofstream(not_scan) << "{\"origins\": []}\n";
  auto run = run_shimwatch({"report", "--scan", not_scan, fixture("scan_merge.jsonl")});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(trim(run.output), "shimwatch report: --scan " + not_scan +
                                  ": not a shimwatch scan document: no schema_version");

  auto missing =
      run_shimwatch({"report", "--scan", dir.file("absent.json"), fixture("scan_merge.jsonl")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(trim(missing.output),
            "shimwatch report: --scan " + dir.file("absent.json") + ": cannot be read");

  auto no_value = run_shimwatch({"report", "--scan"});
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_EQ(trim(no_value.output), "shimwatch report: --scan needs a value");
}
