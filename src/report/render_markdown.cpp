#include <cstring>
#include <string>

#include "report/render.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch::report {

namespace {

using nlohmann::ordered_json;

// Text a workload named (pod names, paths, command lines), safe as plain
// text in a Markdown table cell: control characters, C1 and bidirectional
// controls shown escaped; every character that could start Markdown or HTML
// (links, images, emphasis, tags, entities) backslash-escaped, so that a
// renderer shows it as it is.
std::string cell(const std::string &text) {
  std::string out;
  for (char c : utf8::escape_controls(text)) {
    if (std::strchr("\\`*_[]<>&|~!#", c) != nullptr && c != '\0')
      out += '\\';
    out += c;
  }
  return out;
}

// A code span that survives backticks inside (CommonMark: a longer fence).
// Inside one nothing is Markdown or HTML; only a pipe would end the table
// cell (GFM), and it is escaped.
std::string code(const std::string &text) {
  std::string fence = "`";
  while (text.find(fence) != std::string::npos)
    fence += '`';
  std::string inside;
  for (char c : utf8::escape_controls(text)) {
    if (c == '|')
      inside += '\\';
    inside += c;
  }
  const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
  return fence + (pad ? " " : "") + inside + (pad ? " " : "") + fence;
}

std::string str(const ordered_json &value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_null())
    return "";
  return value.dump();
}

std::string list_names(const ordered_json &names) {
  std::string out;
  for (const auto &n : names)
    out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out;
}

void top_table(std::ostream &out, const char *title, const char *column, const ordered_json &list) {
  if (list["top"].empty())
    return;
  out << "\n" << title;
  if (list["approximate"].get<bool>())
    out << " (approximate: more distinct values than the report keeps)";
  else
    out << " (" << list["distinct"].get<std::uint64_t>() << " distinct)";
  out << ":\n\n| calls | " << column << " |\n| ---: | --- |\n";
  for (const auto &e : list["top"])
    out << "| " << e["calls"].get<std::uint64_t>() << " | " << code(e["value"].get<std::string>())
        << " |\n";
}

std::string evidence_title(const std::string &kind) {
  if (kind == "mounted_and_used")
    return "mounted and used";
  if (kind == "mounted_not_used")
    return "mounted, not used during the window";
  return "used without any mount";
}

// Static findings beside runtime actions, one row per workload or origin.
void evidence_section(std::ostream &out, const ordered_json &evidence) {
  const auto &scan = evidence["scan"];
  out << "\n## Static and runtime evidence\n\nScan " << code(str(scan["file"])) << ": "
      << scan["workloads"].get<std::uint64_t>() << " workload(s), "
      << scan["workloads_with_findings"].get<std::uint64_t>() << " with findings.\n\n"
      << "| evidence | rows |\n| --- | ---: |\n";
  for (const auto &[kind, count] : evidence["counts"].items())
    out << "| " << evidence_title(kind) << " | " << count.get<std::uint64_t>() << " |\n";
  if (evidence["rows"].empty())
    return;
  out << "\n| evidence | workload or origin | findings (severity rule field: reason) | runtime "
         "actions |\n| --- | --- | --- | --- |\n";
  for (const auto &row : evidence["rows"]) {
    std::string findings;
    for (const auto &f : row["findings"])
      findings += (findings.empty() ? "" : "<br>") + cell(str(f["severity"])) + " " +
                  cell(str(f["rule"])) + " " + code(str(f["field"])) + ": " +
                  cell(str(f["reason"]));
    if (findings.empty())
      findings = cell(str(row["note"]));
    std::string actions;
    for (const auto &a : row["actions"])
      actions += (actions.empty() ? "" : ", ") + str(a["action"]) + " " +
                 std::to_string(a["calls"].get<std::uint64_t>());
    if (actions.empty())
      actions = "none in the window";
    out << "| " << evidence_title(str(row["kind"])) << " | " << code(str(row["label"])) << " | "
        << findings << " | " << actions << " |\n";
  }
}

} // namespace

void render_markdown(const ordered_json &doc, std::ostream &out) {
  const auto &summary = doc["summary"];
  const auto &input = summary["input"];
  const auto &origins = doc["origins"];
  out << "# Docker dependency report\n\n";
  out << "Generated " << str(doc["generated_at"]) << " by " << str(doc["generator"]["name"]) << " "
      << str(doc["generator"]["version"]) << " from " << input["files"].get<std::uint64_t>()
      << " file(s), " << input["records"].get<std::uint64_t>() << " records";
  if (!summary["window"]["first"].is_null())
    out << ", events from " << str(summary["window"]["first"]) << " to "
        << str(summary["window"]["last"]);
  out << ".\n";
  if (!doc["options"]["since"].is_null() || !doc["options"]["until"].is_null())
    out << "Only records between " << str(doc["options"]["since"]) << " and "
        << str(doc["options"]["until"]) << " (" << input["outside_window"].get<std::uint64_t>()
        << " left out).\n";

  out << "\n## Summary\n\n";
  if (input["records"].get<std::uint64_t>() == 0)
    out << "**No audit records were read: nothing can be concluded from this report.**\n";
  else if (origins.empty())
    out << "**No Docker dependency was seen** in the window below.\n";
  else
    out << "**" << origins.size() << " origin(s) still depend on Docker** ("
        << summary["calls"].get<std::uint64_t>() << " calls, "
        << summary["failed_calls"].get<std::uint64_t>() << " failed).\n";
  out << "\n| origin type | origins |\n| --- | ---: |\n";
  for (const auto &[type, count] : summary["origins_by_type"].items())
    out << "| " << type << " | " << count.get<std::uint64_t>() << " |\n";

  const auto dropped = summary["dropped_events"].get<std::uint64_t>();
  out << "\n";
  if (dropped > 0)
    out << "**Warning: " << dropped
        << " event(s) were lost on the nodes (gap records below); the report is incomplete "
           "for those spans.**\n";
  else
    out << "No gap records: no events were reported lost.\n";
  std::string problems;
  auto note = [&](const char *key, const char *what) {
    const auto n = input[key].get<std::uint64_t>();
    if (n > 0)
      problems += "- " + std::to_string(n) + " " + what + "\n";
  };
  note("malformed_lines", "malformed line(s) (torn or not valid records), skipped");
  note("truncated_gzip_members", "truncated gzip member(s): the data after the cut is missing");
  note("corrupt_gzip_streams", "corrupt gzip stream(s): the rest of the file was skipped");
  note("oversize_lines", "line(s) too long to be a record, skipped");
  note("foreign_lines", "line(s) from other tools, ignored");
  for (const auto &f : input["unreadable_files"])
    problems += "- unreadable: " + cell(f.get<std::string>()) + "\n";
  if (!problems.empty())
    out << "\nInput:\n\n" << problems;

  out << "\n### Nodes and observation window\n\n"
         "| node | first record | last record | records | calls | dropped events |\n"
         "| --- | --- | --- | ---: | ---: | ---: |\n";
  for (const auto &n : summary["nodes"])
    out << "| " << cell(str(n["name"])) << " | " << str(n["first_seen"]) << " | "
        << str(n["last_seen"]) << " | " << n["records"].get<std::uint64_t>() << " | "
        << n["calls"].get<std::uint64_t>() << " | " << n["dropped_events"].get<std::uint64_t>()
        << " |\n";
  if (!summary["gaps"].empty()) {
    out << "\n### Lost events (gap records)\n\n| node | stage | dropped | first | last | reasons "
           "|\n"
           "| --- | --- | ---: | --- | --- | --- |\n";
    for (const auto &g : summary["gaps"]) {
      std::string reasons;
      for (const auto &[reason, count] : g["reasons"].items())
        reasons += (reasons.empty() ? "" : ", ") + reason + " " + count.dump();
      out << "| " << cell(str(g["node"])) << " | " << str(g["stage"]) << " | "
          << g["dropped_events"].get<std::uint64_t>() << " | " << str(g["first"]) << " | "
          << str(g["last"]) << " | " << reasons << " |\n";
    }
  }

  if (doc.contains("evidence"))
    evidence_section(out, doc["evidence"]);

  if (origins.empty())
    return;
  out << "\n## Checklist\n\n| # | origin | type | agent | actions | calls | nodes | first seen | "
         "last seen |\n| ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |\n";
  int rank = 0;
  for (const auto &o : origins) {
    std::string actions;
    for (const auto &a : o["actions"])
      actions += (actions.empty() ? "" : ", ") + str(a["action"]);
    out << "| " << ++rank << " | " << code(str(o["label"])) << " | " << str(o["type"]) << " | "
        << cell(str(o["agent"])) << " | " << actions << " | " << o["calls"].get<std::uint64_t>()
        << " | " << o["nodes"].size() << " | " << str(o["first_seen"]) << " | "
        << str(o["last_seen"]) << " |\n";
  }

  out << "\n## What to change\n";
  rank = 0;
  for (const auto &o : origins) {
    out << "\n### " << ++rank << ". " << code(str(o["label"])) << " (" << str(o["type"]) << ")\n\n";
    if (!o["agent"].is_null())
      out << "- Known agent: **" << cell(str(o["agent"])) << "**\n";
    if (o.contains("evidence") && !o["evidence"].is_null())
      out << "- Evidence: " << evidence_title(str(o["evidence"]))
          << (o["scan_workload"].is_null() ? std::string()
                                           : " (scan: " + code(str(o["scan_workload"])) + ")")
          << "\n";
    out << "- " << o["calls"].get<std::uint64_t>() << " calls ("
        << o["failed_calls"].get<std::uint64_t>() << " failed), " << str(o["first_seen"]) << " to "
        << str(o["last_seen"]) << "\n";
    out << "- Nodes (" << o["nodes"].size() << "): " << cell(list_names(o["nodes"])) << "\n";
    const auto &samples = o["samples"];
    if (!samples["pods"].empty())
      out << "- Pods: " << cell(list_names(samples["pods"])) << "\n";
    if (!samples["images"].empty())
      out << "- Images: " << cell(list_names(samples["images"])) << "\n";
    if (!samples["executables"].empty())
      out << "- Executables: " << cell(list_names(samples["executables"])) << "\n";
    if (!samples["sessions"].empty())
      out << "- Sessions: " << cell(list_names(samples["sessions"])) << "\n";
    out << "\n";
    for (const auto &a : o["actions"]) {
      out << "- [ ] **" << str(a["action"]) << "** (" << a["calls"].get<std::uint64_t>()
          << " calls";
      if (a["failed_calls"].get<std::uint64_t>() > 0) {
        out << ", " << a["failed_calls"].get<std::uint64_t>() << " failed:";
        for (const auto &c : a["error_codes"])
          out << " " << str(c["code"]) << " " << c["calls"].get<std::uint64_t>();
      }
      out << "): " << str(a["remediation"]) << "\n";
    }
    top_table(out, "Command lines", "command line", o["command_lines"]);
    top_table(out, "Sockets", "socket", o["sockets"]);
    top_table(out, "Configuration files", "file", o["config_files"]);
    top_table(out, "TCP destinations", "destination", o["destinations"]);
    top_table(out, "Service control", "verb and unit", o["service_actions"]);
    top_table(out, "Runtime sockets", "runtime", o["runtimes"]);
  }
}

} // namespace shimwatch::report
