// report renderers: the JSON document's values, and the same values in
// Markdown and HTML.
#include <gtest/gtest.h>

#include <sstream>

#include "report/render.hpp"

namespace {

namespace rpt = shimwatch::report;
using nlohmann::ordered_json;

constexpr rpt::Micros t0 = 1'700'000'000'000'000; // 2023-11-14T22:13:20Z

rpt::ParsedRecord record(const std::string &node, const std::string &key, rpt::OriginGroup type,
                         const std::string &action, rpt::Micros time) {
  rpt::ParsedRecord r;
  r.node = node;
  r.time = r.first_time = time;
  r.action = action;
  r.outcome = "success";
  r.origin_type = type;
  r.origin_key = key;
  return r;
}

struct Fixture {
  rpt::Aggregator data{rpt::ReportOptions{.top = 2, .since = {}, .until = {}}};
  Fixture() {
    auto unit = record("node-1", "systemd_unit:backup.service", rpt::OriginGroup::systemd_unit,
                       "docker-service-control", t0);
    unit.unit = "backup.service";
    unit.command_line = "systemctl restart docker";
    unit.service = "restart docker";
    data.add(unit);
    auto pod = record("node-2", "workload:monitoring/DaemonSet/cadvisor",
                      rpt::OriginGroup::workload, "docker-socket-connect", t0 + 3600'000'000LL);
    pod.namespace_name = "monitoring";
    pod.workload_kind = "DaemonSet";
    pod.workload_name = "cadvisor";
    pod.agent = "cadvisor";
    pod.socket = "/var/run/docker.sock";
    pod.command_line = "cadvisor --docker=unix:///var/run/docker.sock <x>|y";
    pod.calls = 100;
    data.add(pod);
    for (int i = 0; i < 5; ++i) {
      auto host = record("node-1", "host:/usr/bin/docker", rpt::OriginGroup::host,
                         "docker-cli-exec", t0 + i);
      host.executable = "/usr/bin/docker";
      host.command_line = "docker ps " + std::to_string(i);
      data.add(host);
    }
    rpt::ParsedRecord gap;
    gap.gap = true;
    gap.node = "node-2";
    gap.time = gap.gap_first = gap.gap_last = t0 + 7200'000'000LL;
    gap.gap_stage = "kernel";
    gap.dropped = 9;
    gap.gap_reasons = {{"ring_buffer_full", 9}};
    data.add(gap);
    data.input().files = 2;
    data.input().records = 8;
    data.input().malformed_lines = 3;
    data.input().truncated_gzip_members = 1;
  }
  ordered_json document() {
    return rpt::build_report_document(
        {.data = data, .inputs = {"a.log", "b.log.gz"}, .generated_at = t0});
  }
};

} // namespace

TEST(ReportRender, JsonDocumentValues) {
  Fixture f;
  auto doc = f.document();
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["options"]["top"], 2);
  const auto &summary = doc["summary"];
  EXPECT_EQ(summary["calls"], 106);
  EXPECT_EQ(summary["origins"], 3);
  EXPECT_EQ(summary["origins_by_type"]["workload"], 1);
  EXPECT_EQ(summary["origins_by_type"]["systemd_unit"], 1);
  EXPECT_EQ(summary["origins_by_type"]["host"], 1);
  EXPECT_EQ(summary["origins_by_type"]["user_session"], 0);
  EXPECT_EQ(summary["dropped_events"], 9);
  EXPECT_EQ(summary["complete"], false);
  EXPECT_EQ(summary["input"]["malformed_lines"], 3);
  EXPECT_EQ(summary["input"]["truncated_gzip_members"], 1);
  ASSERT_EQ(summary["nodes"].size(), 2u);
  EXPECT_EQ(summary["nodes"][1]["name"], "node-2");
  EXPECT_EQ(summary["nodes"][1]["first_seen"], "2023-11-14T23:13:20.000000Z");
  EXPECT_EQ(summary["nodes"][1]["last_seen"], "2023-11-15T00:13:20.000000Z");
  EXPECT_EQ(summary["nodes"][1]["dropped_events"], 9);
  // node-2 wrote in two different hours: silent spans between them would show.
  EXPECT_EQ(summary["nodes"][1]["timeline"]["bucket_seconds"], 3600);
  EXPECT_EQ(summary["nodes"][1]["timeline"]["buckets"].size(), 2u);
  EXPECT_EQ(summary["nodes"][1]["timeline"]["buckets"][1]["records"], 1);
  ASSERT_EQ(summary["gaps"].size(), 1u);
  EXPECT_EQ(summary["gaps"][0]["reasons"]["ring_buffer_full"], 9);

  const auto &origins = doc["origins"];
  ASSERT_EQ(origins.size(), 3u);
  EXPECT_EQ(origins[0]["label"], "monitoring/DaemonSet/cadvisor");
  EXPECT_EQ(origins[0]["agent"], "cadvisor");
  EXPECT_EQ(origins[0]["calls"], 100);
  EXPECT_EQ(origins[0]["nodes"], ordered_json::array({"node-2"}));
  EXPECT_NE(origins[0]["actions"][0]["remediation"].get<std::string>().find("cAdvisor"),
            std::string::npos);
  EXPECT_EQ(origins[1]["id"], "host:/usr/bin/docker");
  EXPECT_EQ(origins[1]["executable"], "/usr/bin/docker");
  // --top 2 of 5 distinct command lines.
  EXPECT_EQ(origins[1]["command_lines"]["top"].size(), 2u);
  EXPECT_EQ(origins[1]["command_lines"]["distinct"], 5);
  EXPECT_EQ(origins[2]["unit"], "backup.service");
  EXPECT_EQ(origins[2]["service_actions"]["top"][0]["value"], "restart docker");
  EXPECT_EQ(origins[2]["timeline"]["bucket_seconds"], 3600);
  EXPECT_EQ(origins[2]["timeline"]["buckets"][0]["calls"], 1);
  // Round trip through the text form.
  std::ostringstream text;
  rpt::render_json(doc, text);
  EXPECT_EQ(nlohmann::ordered_json::parse(text.str()), doc);
}

TEST(ReportRender, MarkdownShowsLossesChecklistAndRemediation) {
  Fixture f;
  std::ostringstream out;
  rpt::render_markdown(f.document(), out);
  const std::string md = out.str();
  EXPECT_NE(md.find("**3 origin(s) still depend on Docker** (106 calls, 0 failed)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("**Warning: 9 event(s) were lost"), std::string::npos);
  EXPECT_NE(md.find("- 3 malformed line(s)"), std::string::npos);
  EXPECT_NE(md.find("| node-2 | 2023-11-14T23:13:20.000000Z | 2023-11-15T00:13:20.000000Z | 2 | "
                    "100 | 9 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 1 | `monitoring/DaemonSet/cadvisor` | workload | cadvisor | "
                    "docker-socket-connect | 100 | 1 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- [ ] **docker-service-control** (1 calls): Controls Docker's service"),
            std::string::npos);
  // A pipe in a command line cannot break the table.
  EXPECT_NE(md.find("<x>\\|y"), std::string::npos);
}

TEST(ReportRender, HtmlIsSelfContainedAndEscaped) {
  Fixture f;
  std::ostringstream out;
  rpt::render_html(f.document(), out);
  const std::string html = out.str();
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg")); // SVG namespace only
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"origins\">"), std::string::npos);
  EXPECT_NE(html.find("data-origin-id=\"workload:monitoring/DaemonSet/cadvisor\""),
            std::string::npos);
  EXPECT_NE(html.find("&lt;x&gt;|y"), std::string::npos);
  EXPECT_EQ(html.find("<x>"), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"timeline\""), std::string::npos);
  EXPECT_NE(html.find("id=\"data-loss\">9 event(s) were lost"), std::string::npos);
}

TEST(ReportRender, NoRecordsNeverLooksClean) {
  rpt::Aggregator empty({});
  auto doc = rpt::build_report_document({.data = empty, .inputs = {}, .generated_at = t0});
  std::ostringstream md, html;
  rpt::render_markdown(doc, md);
  rpt::render_html(doc, html);
  EXPECT_NE(md.str().find("No audit records were read"), std::string::npos);
  EXPECT_NE(html.str().find("No audit records were read"), std::string::npos);
  EXPECT_TRUE(doc["summary"]["window"]["first"].is_null());
}
