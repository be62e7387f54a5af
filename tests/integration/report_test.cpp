// `shimwatch report` over trails written by the real agent (log file, gzip,
// kubectl --prefix through stdin, a second node), and its HTML in Chromium.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "harness.hpp"

using namespace swtest;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string &name) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "report" / name).string();
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

const json *origin_with_id(const json &report, const std::string &id) {
  for (const auto &o : report["origins"])
    if (o["id"] == id)
      return &o;
  return nullptr;
}

const json *action_of(const json &origin, const std::string &action) {
  for (const auto &a : origin["actions"])
    if (a["action"] == action)
      return &a;
  return nullptr;
}

std::vector<std::string> values_of(const json &top_list) {
  std::vector<std::string> values;
  for (const auto &e : top_list["top"])
    values.push_back(e["value"]);
  return values;
}

bool contains(const std::vector<std::string> &values, const std::string &value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

json report_json(const std::vector<std::string> &args, const std::string &out_file) {
  std::vector<std::string> full = {"report", "--format", "json", "-o", out_file};
  full.insert(full.end(), args.begin(), args.end());
  auto run = run_shimwatch(full);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return json::parse(read_file(out_file));
}

} // namespace

TEST(Report, RealAgentTrailBecomesGroupedRowsWithRemediation) {
  TempDir dir;
  TestCgroup unit("system.slice/shimwatch-report-job.service");
  TestCgroup session("user.slice/user-1000.slice/session-42.scope");
  std::string job = copy_executable(dir, "/bin/sh", "report-job.sh");
  std::string log = dir.subdir("log") + "/audit.log";
  Agent agent({"--log-file", log, "--no-stdout"});

  // TRIGGER: a "service" runs docker ps and docker inspect; a login session docker version.
  auto service = run_process_in_cgroup(
      unit.path(), {job, "-c",
                    "docker ps >/dev/null 2>&1; docker inspect shimwatch-report-none >/dev/null "
                    "2>&1; exit 0"});
  ASSERT_EQ(service.exit_code, 0) << service.output;
  auto login = run_process_in_cgroup(session.path(),
                                     {"/bin/sh", "-c", "docker version >/dev/null 2>&1; exit 0"});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  ASSERT_TRUE(
      wait_for([&] { return read_file(log).find("session-42.scope") != std::string::npos; }, 10s));
  auto out = agent.stop();
  ASSERT_EQ(out.exit_code, 0) << out.log;

  // The same trail as a gzip file, plus a second node's trail.
  ASSERT_EQ(run_process({"/bin/sh", "-c", "gzip -c " + log + " > " + log + ".1.gz"}).exit_code, 0);
  const std::string second_node = fixture("two_nodes.jsonl");

  // ASSERT
  json report = report_json({log + ".1.gz", second_node}, dir.file("report.json"));
  EXPECT_EQ(report["schema_version"], 1);
  const json &summary = report["summary"];
  std::vector<std::string> nodes;
  for (const auto &n : summary["nodes"])
    nodes.push_back(n["name"]);
  EXPECT_TRUE(contains(nodes, host_name())) << summary.dump();
  EXPECT_TRUE(contains(nodes, "node-1"));
  EXPECT_TRUE(contains(nodes, "node-2"));
  EXPECT_GE(summary["dropped_events"].get<int>(), 37); // the fixture's, and any real loss
  EXPECT_EQ(summary["complete"], false);
  EXPECT_EQ(summary["input"]["files"], 2);
  EXPECT_EQ(summary["input"]["malformed_lines"], 1);
  EXPECT_EQ(summary["input"]["foreign_lines"], 1);

  const json *job_origin = origin_with_id(report, "systemd_unit:shimwatch-report-job.service");
  ASSERT_NE(job_origin, nullptr) << report["origins"].dump(1);
  EXPECT_EQ((*job_origin)["type"], "systemd_unit");
  EXPECT_EQ((*job_origin)["nodes"], json::array({host_name()}));
  auto lines = values_of((*job_origin)["command_lines"]);
  EXPECT_TRUE(contains(lines, "docker ps")) << (*job_origin).dump(1);
  EXPECT_TRUE(contains(lines, "docker inspect shimwatch-report-none"));
  const json *exec = action_of(*job_origin, "docker-cli-exec");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ((*exec)["calls"], 2);
  const std::string advice = (*exec)["remediation"];
  EXPECT_NE(advice.find("`docker ps` -> `crictl ps`"), std::string::npos) << advice;
  EXPECT_NE(advice.find("`docker inspect` -> `crictl inspect`"), std::string::npos) << advice;
  const json *connect = action_of(*job_origin, "docker-socket-connect");
  ASSERT_NE(connect, nullptr) << (*job_origin).dump(1);
  EXPECT_GE((*connect)["calls"].get<int>(), 2);
  EXPECT_NE((*connect)["remediation"].get<std::string>().find("CRI socket"), std::string::npos);
  EXPECT_TRUE(contains(values_of((*job_origin)["sockets"]), "/var/run/docker.sock"));

  const json *user = origin_with_id(report, "user_session:uid 1000");
  ASSERT_NE(user, nullptr);
  EXPECT_TRUE(contains(values_of((*user)["command_lines"]), "docker version"));
  // node-1's fixture session (uid 1000 too) lands in the same row: one user, two nodes.
  EXPECT_EQ((*user)["nodes"].size(), 2u);

  const json *dd = origin_with_id(report, "workload:monitoring/DaemonSet/dd-agent");
  ASSERT_NE(dd, nullptr);
  EXPECT_EQ((*dd)["agent"], "datadog");
  EXPECT_EQ((*dd)["calls"], 2 * (1 + 1439));
  EXPECT_EQ((*dd)["nodes"], json::array({"node-1", "node-2"}));
}

TEST(Report, KubectlPrefixedTrailThroughStdin) {
  TempDir dir;
  // Each line as `kubectl logs --prefix` shows it, from two agent pods.
  std::ifstream in(fixture("two_nodes.jsonl"));
  std::ofstream prefixed(dir.file("kubectl.log"));
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    prefixed << "[pod/shimwatch-" << (n++ % 2 ? "abcde" : "fghij") << "/shimwatch] " << line
             << "\n";
  prefixed.close();

  // TRIGGER: `report` reads the prefixed trail from stdin.
  auto run = run_process({"/bin/sh", "-c",
                          std::string(SHIMWATCH_BINARY) + " report --format json -o " +
                              dir.file("r.json") + " - < " + dir.file("kubectl.log")});
  // ASSERT
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json report = json::parse(read_file(dir.file("r.json")));
  EXPECT_EQ(report["summary"]["input"]["kubectl_prefixed_lines"], n);
  EXPECT_EQ(report["summary"]["input"]["records"], n - 2);
  const json *cadvisor = origin_with_id(report, "workload:kube-system/DaemonSet/cadvisor");
  ASSERT_NE(cadvisor, nullptr);
  EXPECT_NE((*action_of(*cadvisor, "docker-socket-connect"))["remediation"].get<std::string>().find(
                "container-id format"),
            std::string::npos);
  const json *bootstrap = origin_with_id(report, "systemd_unit:node-bootstrap.service");
  ASSERT_NE(bootstrap, nullptr);
  EXPECT_NE((*action_of(*bootstrap, "docker-config-write"))["remediation"].get<std::string>().find(
                "hosts.toml"),
            std::string::npos);
}

TEST(Report, TruncatedGzipAndRotatedFilesAreCountedNotFatal) {
  TempDir dir;
  // A rotated, compressed file cut short (a copy that stopped half way), and
  // the plain current file.
  std::string body = read_file(fixture("two_nodes.jsonl"));
  std::string many;
  for (int i = 0; i < 200; ++i)
    many += body;
  write_file(dir.file("audit.log.1"), many);
  ASSERT_EQ(run_process({"gzip", dir.file("audit.log.1")}).exit_code, 0);
  std::string gz = read_file(dir.file("audit.log.1.gz"));
  write_file(dir.file("audit.log.1.gz"), gz.substr(0, gz.size() / 2));
  write_file(dir.file("audit.log"), body);

  // TRIGGER: `report` over both files.
  json report =
      report_json({dir.file("audit.log"), dir.file("audit.log.1.gz")}, dir.file("r.json"));
  // ASSERT
  const json &input = report["summary"]["input"];
  EXPECT_EQ(input["files"], 2);
  EXPECT_EQ(input["truncated_gzip_members"], 1);
  EXPECT_GT(input["records"].get<int>(), 12) << "the lines before the cut count";
  EXPECT_EQ(report["summary"]["complete"], false);
}

TEST(Report, BadFlagsExitTwoWithOneLine) {
  // TRIGGER: an unknown format.
  auto bad = run_shimwatch({"report", "--format", "pdf", "x.log"});
  // ASSERT
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(trim(bad.output), "shimwatch report: --format pdf: allowed are md, html, json");
  for (const auto &[args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"report", "--top", "0", "x.log"}, "--top 0: expected a number from 1 to 1000"},
           {{"report", "--since", "yesterday", "x.log"}, "--since yesterday: expected RFC 3339"},
           {{"report", "--since=2026-11-25", "--until=2026-11-24", "x.log"},
            "--since is after --until"},
           {{"report", "--frobnicate", "x.log"}, "unknown option --frobnicate"},
           {{"report", "-o"}, "-o needs a value"},
           {{"report"}, "no LOG given"}}) {
    // TRIGGER: each other bad flag.
    auto run = run_shimwatch(args);
    // ASSERT
    EXPECT_EQ(run.exit_code, 2) << message;
    EXPECT_EQ(run.output.find("shimwatch report: " + message), 0u) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  }
  // TRIGGER: `report --help`.
  auto help = run_shimwatch({"report", "--help"});
  // ASSERT
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("EXAMPLES"), std::string::npos);
  // TRIGGER: a file that does not exist.
  auto missing = run_shimwatch({"report", "--format", "json", "/nonexistent/audit.log"});
  // ASSERT
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("\"unreadable_files\""), std::string::npos);
}

TEST(Report, HtmlRendersInHeadlessChromiumWithSortedTable) {
  if (access("/usr/bin/chromium", X_OK) != 0)
    GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh test)";
  TempDir dir;
  const std::string html = dir.file("report.html");
  // TRIGGER: an HTML report.
  auto run = run_shimwatch({"report", "--format", "html", "-o", html, fixture("two_nodes.jsonl")});
  // ASSERT
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // TRIGGER: headless Chromium opens it.
  auto dom =
      run_process({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                   "--user-data-dir=" + dir.file("profile"), "--dump-dom", "file://" + html});
  // ASSERT
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  const std::string &text = dom.output;
  // The script ran: it marks the table and sorted it by calls.
  EXPECT_NE(text.find("data-sortable=\"ready\""), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("data-rows=\"6\""), std::string::npos);
  EXPECT_NE(text.find("id=\"origins-calls\" aria-sort=\"descending\""), std::string::npos);
  for (const char *id :
       {"workload:monitoring/DaemonSet/dd-agent", "workload:kube-system/DaemonSet/cadvisor",
        "systemd_unit:docker-upgrade.service", "systemd_unit:node-bootstrap.service",
        "systemd_unit:backup.service", "user_session:uid 1000"})
    EXPECT_NE(text.find(std::string("data-origin-id=\"") + id + "\""), std::string::npos) << id;
  // The largest first: the dd-agent row comes before every other row.
  EXPECT_LT(text.find("data-origin-id=\"workload:monitoring/DaemonSet/dd-agent\""),
            text.find("data-origin-id=\"user_session:uid 1000\""));
  EXPECT_NE(text.find("<svg class=\"timeline\""), std::string::npos);
  EXPECT_NE(text.find("37 event(s) were lost"), std::string::npos);
}
