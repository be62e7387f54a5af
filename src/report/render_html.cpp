#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "report/render.hpp"

namespace shimwatch::report {

namespace {

using nlohmann::ordered_json;

constexpr int timeline_columns = 60;
constexpr int timeline_width = 160;
constexpr int timeline_height = 24;
constexpr int coverage_width = 300;

std::string escape(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      append_printable(out, c);
    }
  }
  return out;
}

// Escaped text with `code` spans (as the remediation texts write them) as <code>.
std::string with_code(const std::string &text) {
  std::string out;
  bool inside = false;
  for (char c : escape(text)) {
    if (c == '`') {
      out += inside ? "</code>" : "<code>";
      inside = !inside;
    } else {
      out += c;
    }
  }
  return inside ? out + "</code>" : out;
}

std::string str(const ordered_json &value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_null())
    return "";
  return value.dump();
}

// "2026-11-25T14:28:41.121836Z" -> "2026-11-25 14:28Z" for table cells; the full time is their
// title.
std::string time_cell(const ordered_json &value) {
  const std::string full = str(value);
  if (full.size() < 16)
    return "<td>" + escape(full) + "</td>";
  return "<td title=\"" + escape(full) + "\">" + escape(full.substr(0, 10)) + " " +
         escape(full.substr(11, 5)) + "Z</td>";
}

std::uint64_t num(const ordered_json &value) {
  return value.is_number() ? value.get<std::uint64_t>() : 0;
}

Micros time_of(const ordered_json &value) {
  return value.is_string() ? parse_rfc3339(value.get<std::string>()).value_or(0) : 0;
}

std::string fmt(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

// Activity of one origin over the report's whole window, as bars.
std::string timeline_svg(const ordered_json &origin, Micros window_first, Micros window_last) {
  std::vector<std::uint64_t> columns(timeline_columns, 0);
  const double span = static_cast<double>(std::max<Micros>(window_last - window_first, 1));
  for (const auto &bucket : origin["timeline"]["buckets"]) {
    const Micros start = time_of(bucket["start"]);
    auto column =
        static_cast<int>((static_cast<double>(start - window_first) / span) * timeline_columns);
    column = std::clamp(column, 0, timeline_columns - 1);
    columns[static_cast<std::size_t>(column)] += num(bucket["calls"]);
  }
  const std::uint64_t peak = *std::max_element(columns.begin(), columns.end());
  const double width = static_cast<double>(timeline_width) / timeline_columns;
  std::string svg =
      "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
      std::to_string(timeline_width) + "\" height=\"" + std::to_string(timeline_height) +
      "\" viewBox=\"0 0 " + std::to_string(timeline_width) + " " + std::to_string(timeline_height) +
      "\" role=\"img\"><title>" + escape(str(origin["label"])) + ": " +
      std::to_string(num(origin["calls"])) + " calls from " + escape(str(origin["first_seen"])) +
      " to " + escape(str(origin["last_seen"])) + "</title><rect class=\"axis\" x=\"0\" y=\"" +
      std::to_string(timeline_height - 1) + "\" width=\"" + std::to_string(timeline_width) +
      "\" height=\"1\"/>";
  for (int i = 0; i < timeline_columns; ++i) {
    const std::uint64_t calls = columns[static_cast<std::size_t>(i)];
    if (calls == 0 || peak == 0)
      continue;
    // At least 3 px, so one call in weeks of polling still shows.
    const double height = std::max(3.0, static_cast<double>(calls) / static_cast<double>(peak) *
                                            (timeline_height - 2));
    svg += "<rect class=\"bar\" x=\"" + fmt(i * width) + "\" y=\"" +
           fmt(timeline_height - 1 - height) + "\" width=\"" + fmt(std::max(width - 0.5, 1.0)) +
           "\" height=\"" + fmt(height) + "\"><title>" + std::to_string(calls) +
           " calls</title></rect>";
  }
  return svg + "</svg>";
}

// Where a node's records start and end inside the report's window, and the
// spans in which it wrote any (silent spans stay light).
std::string coverage_svg(const ordered_json &node, Micros window_first, Micros window_last) {
  const double span = static_cast<double>(std::max<Micros>(window_last - window_first, 1));
  auto x_of = [&](Micros t) {
    return std::clamp(static_cast<double>(t - window_first) / span * coverage_width, 0.0,
                      static_cast<double>(coverage_width));
  };
  const double x = x_of(time_of(node["first_seen"]));
  const double w = std::max(2.0, x_of(time_of(node["last_seen"])) - x);
  std::string svg = "<svg class=\"coverage\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(coverage_width) +
                    "\" height=\"12\" role=\"img\"><title>records from " +
                    escape(str(node["first_seen"])) + " to " + escape(str(node["last_seen"])) +
                    "</title><rect class=\"window\" x=\"0\" y=\"0\" width=\"" +
                    std::to_string(coverage_width) + "\" height=\"12\"/><rect class=\"seen\" x=\"" +
                    fmt(x) + "\" y=\"0\" width=\"" + fmt(w) + "\" height=\"12\"/>";
  const auto &timeline = node["timeline"];
  const Micros bucket = static_cast<Micros>(num(timeline["bucket_seconds"])) * 1'000'000;
  for (const auto &b : timeline["buckets"]) {
    const Micros start = time_of(b["start"]);
    const double bx = x_of(start);
    svg += "<rect class=\"active\" x=\"" + fmt(bx) + "\" y=\"0\" width=\"" +
           fmt(std::max(1.0, x_of(start + bucket) - bx)) + "\" height=\"12\"/>";
  }
  return svg + "</svg>";
}

void top_list(std::ostream &out, const char *title, const ordered_json &list) {
  if (list["top"].empty())
    return;
  out << "<h4>" << title;
  if (list["approximate"].get<bool>())
    out << " <small>(approximate: more distinct values than the report keeps)</small>";
  out << "</h4><table class=\"top\"><thead><tr><th>calls</th><th>value</th></tr></thead><tbody>";
  for (const auto &e : list["top"])
    out << "<tr><td class=\"num\">" << num(e["calls"]) << "</td><td><code>"
        << escape(str(e["value"])) << "</code></td></tr>";
  out << "</tbody></table>\n";
}

const char *const style = R"(
body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24;max-width:1400px}
h1{margin-bottom:.2em}.meta{color:#57606a}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
#origins th{cursor:pointer;user-select:none}#origins td{white-space:nowrap}
#origins th[aria-sort=ascending]::after{content:" \25B2"}
#origins th[aria-sort=descending]::after{content:" \25BC"}
.warning{background:#fff1e5;border:1px solid #d1242f;padding:.6em 1em;font-weight:600}
.ok{background:#dafbe1;border:1px solid #1a7f37;padding:.6em 1em}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #d0d7de;padding:.6em 1em;border-radius:6px}
.card b{display:block;font-size:1.6em}
svg.timeline .bar{fill:#0969da}svg.timeline .axis{fill:#d0d7de}
svg.coverage .window{fill:#eaeef2}svg.coverage .seen{fill:#aceebb}svg.coverage .active{fill:#1a7f37}
.agent{background:#ddf4ff;border-radius:4px;padding:0 .3em}
section.origin{border-top:1px solid #d0d7de;margin-top:1.5em}
ul.checklist{list-style:none;padding-left:0}ul.checklist li{margin:.4em 0}
code{font-size:.9em;word-break:break-all}
)";

// Sorts #origins by a clicked column; numbers by their data-value.
const char *const script = R"(
(function () {
  var table = document.getElementById('origins');
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  function value(row, i) {
    var cell = row.cells[i];
    var v = cell.getAttribute('data-value');
    return v !== null ? parseFloat(v) : cell.textContent.trim().toLowerCase();
  }
  function sortBy(i, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, i), y = value(b, i);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    for (var k = 0; k < heads.length; k++) heads[k].setAttribute('aria-sort', 'none');
    heads[i].setAttribute('aria-sort', descending ? 'descending' : 'ascending');
  }
  for (var i = 0; i < heads.length; i++) {
    (function (i) {
      heads[i].setAttribute('aria-sort', 'none');
      heads[i].addEventListener('click', function () {
        sortBy(i, heads[i].getAttribute('aria-sort') !== 'descending');
      });
    })(i);
  }
  var calls = document.getElementById('origins-calls');
  if (calls) sortBy(calls.cellIndex, true);
  table.setAttribute('data-sortable', 'ready');
  table.setAttribute('data-rows', String(table.tBodies[0].rows.length));
})();
)";

std::string evidence_title(const std::string &kind) {
  if (kind == "mounted_and_used")
    return "mounted and used";
  if (kind == "mounted_not_used")
    return "mounted, not used during the window";
  if (kind == "used_without_mount")
    return "used without any mount";
  return "";
}

// Static findings beside runtime actions, one row per workload or origin.
void evidence_section(std::ostream &out, const ordered_json &evidence) {
  const auto &scan = evidence["scan"];
  out << "<h2>Static and runtime evidence</h2><p class=\"meta\">Scan <code>"
      << escape(str(scan["file"])) << "</code>: " << num(scan["workloads"]) << " workload(s), "
      << num(scan["workloads_with_findings"]) << " with findings.</p><div class=\"cards\">";
  for (const auto &[kind, count] : evidence["counts"].items())
    out << "<div class=\"card\"><b>" << num(count) << "</b>" << escape(evidence_title(kind))
        << "</div>";
  out << "</div>\n";
  if (evidence["rows"].empty())
    return;
  out << "<table id=\"evidence\"><thead><tr><th>evidence</th><th>workload or origin</th>"
         "<th>findings</th><th>runtime actions</th></tr></thead><tbody>\n";
  for (const auto &row : evidence["rows"]) {
    std::string findings;
    for (const auto &f : row["findings"])
      findings += (findings.empty() ? "" : "<br>") + escape(str(f["severity"])) + " <b>" +
                  escape(str(f["rule"])) + "</b> <code>" + escape(str(f["field"])) +
                  "</code>: " + escape(str(f["reason"]));
    if (findings.empty())
      findings = escape(str(row["note"]));
    std::string actions;
    for (const auto &a : row["actions"])
      actions += (actions.empty() ? "" : "<br>") + escape(str(a["action"])) + " " +
                 std::to_string(num(a["calls"]));
    if (actions.empty())
      actions = "none in the window";
    out << "<tr class=\"evidence-row\" data-evidence=\"" << escape(str(row["kind"])) << "\"><td>"
        << escape(evidence_title(str(row["kind"]))) << "</td><td>" << escape(str(row["label"]))
        << "</td><td>" << findings << "</td><td>" << actions << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
}

} // namespace

void render_html(const ordered_json &doc, std::ostream &out) {
  const auto &summary = doc["summary"];
  const auto &input = summary["input"];
  const auto &origins = doc["origins"];
  const Micros window_first = time_of(summary["window"]["first"]);
  const Micros window_last = time_of(summary["window"]["last"]);

  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>Docker dependency report</title><style>"
      << style << "</style></head><body>\n";
  out << "<h1>Docker dependency report</h1><p class=\"meta\">Generated "
      << escape(str(doc["generated_at"])) << " by " << escape(str(doc["generator"]["name"])) << " "
      << escape(str(doc["generator"]["version"])) << " from " << num(input["files"]) << " file(s), "
      << num(input["records"]) << " records";
  if (!summary["window"]["first"].is_null())
    out << "; events from " << escape(str(summary["window"]["first"])) << " to "
        << escape(str(summary["window"]["last"]));
  out << ".</p>\n<h2>Summary</h2>\n";

  if (num(input["records"]) == 0)
    out << "<p class=\"warning\" id=\"verdict\">No audit records were read: nothing can be "
           "concluded from this report.</p>\n";
  else if (origins.empty())
    out << "<p class=\"ok\" id=\"verdict\">No Docker dependency was seen in this window.</p>\n";
  else
    out << "<p class=\"warning\" id=\"verdict\">" << origins.size()
        << " origin(s) still depend on Docker (" << num(summary["calls"]) << " calls, "
        << num(summary["failed_calls"]) << " failed).</p>\n";
  const auto dropped = num(summary["dropped_events"]);
  if (dropped > 0)
    out << "<p class=\"warning\" id=\"data-loss\">" << dropped
        << " event(s) were lost on the nodes (see the gap records below): the report is "
           "incomplete for those spans.</p>\n";
  out << "<div class=\"cards\">";
  for (const auto &[type, count] : summary["origins_by_type"].items())
    out << "<div class=\"card\"><b>" << num(count) << "</b>" << escape(type) << "</div>";
  out << "<div class=\"card\"><b>" << summary["nodes"].size() << "</b>nodes</div>"
      << "<div class=\"card\"><b>" << dropped << "</b>events lost</div></div>\n";

  std::string problems;
  auto note = [&](const char *key, const char *what) {
    if (num(input[key]) > 0)
      problems += "<li>" + std::to_string(num(input[key])) + " " + what + "</li>";
  };
  note("malformed_lines", "malformed line(s), skipped");
  note("truncated_gzip_members", "truncated gzip member(s)");
  note("corrupt_gzip_streams", "corrupt gzip stream(s), rest of the file skipped");
  note("oversize_lines", "line(s) too long to be a record");
  note("foreign_lines", "line(s) from other tools, ignored");
  note("outside_window", "record(s) outside --since/--until");
  for (const auto &f : input["unreadable_files"])
    problems += "<li>unreadable: " + escape(str(f)) + "</li>";
  if (!problems.empty())
    out << "<h3>Input</h3><ul id=\"input-problems\">" << problems << "</ul>\n";

  out << "<h3>Nodes and observation window</h3><table id=\"nodes\"><thead><tr><th>node</th>"
         "<th>first record</th><th>last record</th><th>coverage</th><th>records</th>"
         "<th>calls</th><th>events lost</th></tr></thead><tbody>\n";
  for (const auto &n : summary["nodes"])
    out << "<tr><td>" << escape(str(n["name"])) << "</td><td>" << escape(str(n["first_seen"]))
        << "</td><td>" << escape(str(n["last_seen"])) << "</td><td>"
        << coverage_svg(n, window_first, window_last) << "</td><td class=\"num\">"
        << num(n["records"]) << "</td><td class=\"num\">" << num(n["calls"])
        << "</td><td class=\"num\">" << num(n["dropped_events"]) << "</td></tr>\n";
  out << "</tbody></table>\n";
  if (!summary["gaps"].empty()) {
    out << "<h3>Lost events (gap records)</h3><table id=\"gaps\"><thead><tr><th>node</th>"
           "<th>stage</th><th>lost</th><th>first</th><th>last</th><th>reasons</th></tr></thead>"
           "<tbody>\n";
    for (const auto &g : summary["gaps"]) {
      std::string reasons;
      for (const auto &[reason, count] : g["reasons"].items())
        reasons += (reasons.empty() ? "" : ", ") + escape(reason) + " " + count.dump();
      out << "<tr><td>" << escape(str(g["node"])) << "</td><td>" << escape(str(g["stage"]))
          << "</td><td class=\"num\">" << num(g["dropped_events"]) << "</td><td>"
          << escape(str(g["first"])) << "</td><td>" << escape(str(g["last"])) << "</td><td>"
          << reasons << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
  }

  const bool with_evidence = doc.contains("evidence");
  if (with_evidence)
    evidence_section(out, doc["evidence"]);

  if (!origins.empty()) {
    out << "<h2>Checklist</h2><p class=\"meta\">Click a column to sort.</p>"
           "<table id=\"origins\"><thead><tr><th>#</th><th>origin</th><th>type</th>"
           "<th>agent</th><th>actions</th><th id=\"origins-calls\">calls</th><th>failed</th>"
           "<th>nodes</th><th>first seen</th><th>last seen</th><th>activity</th>"
        << (with_evidence ? "<th>evidence</th>" : "") << "</tr></thead><tbody>\n";
    std::size_t rank = 0;
    for (const auto &o : origins) {
      ++rank;
      std::string actions;
      for (const auto &a : o["actions"])
        actions += (actions.empty() ? "" : "<br>") + escape(str(a["action"]));
      out << "<tr class=\"origin\" data-origin-id=\"" << escape(str(o["id"]))
          << "\"><td class=\"num\" data-value=\"" << rank << "\">" << rank
          << "</td><td><a href=\"#origin-" << rank << "\">" << escape(str(o["label"]))
          << "</a></td><td>" << escape(str(o["type"])) << "</td><td>"
          << (o["agent"].is_null() ? ""
                                   : "<span class=\"agent\">" + escape(str(o["agent"])) + "</span>")
          << "</td><td>" << actions << "</td><td class=\"num\" data-value=\"" << num(o["calls"])
          << "\">" << num(o["calls"]) << "</td><td class=\"num\" data-value=\""
          << num(o["failed_calls"]) << "\">" << num(o["failed_calls"])
          << "</td><td class=\"num\" data-value=\"" << o["nodes"].size() << "\">"
          << o["nodes"].size() << "</td>" << time_cell(o["first_seen"]) << time_cell(o["last_seen"])
          << "<td>" << timeline_svg(o, window_first, window_last) << "</td>";
      if (with_evidence)
        out << "<td class=\"evidence\">" << escape(evidence_title(str(o["evidence"]))) << "</td>";
      out << "</tr>\n";
    }
    out << "</tbody></table>\n<h2>What to change</h2>\n";
    rank = 0;
    for (const auto &o : origins) {
      ++rank;
      out << "<section class=\"origin\" id=\"origin-" << rank << "\"><h3>" << rank << ". "
          << escape(str(o["label"])) << " <small>(" << escape(str(o["type"])) << ")</small></h3>";
      if (!o["agent"].is_null())
        out << "<p>Known agent: <span class=\"agent\">" << escape(str(o["agent"])) << "</span></p>";
      std::string nodes;
      for (const auto &n : o["nodes"])
        nodes += (nodes.empty() ? "" : ", ") + escape(str(n));
      out << "<p>" << num(o["calls"]) << " calls (" << num(o["failed_calls"]) << " failed), "
          << escape(str(o["first_seen"])) << " to " << escape(str(o["last_seen"])) << " on "
          << o["nodes"].size() << " node(s): " << nodes << "</p>";
      for (const char *sample : {"pods", "images", "executables", "sessions"}) {
        std::string items;
        for (const auto &s : o["samples"][sample])
          items += (items.empty() ? "" : ", ") + escape(str(s));
        if (!items.empty())
          out << "<p>" << sample << ": " << items << "</p>";
      }
      out << "<ul class=\"checklist\">";
      for (const auto &a : o["actions"]) {
        out << "<li><input type=\"checkbox\"> <b>" << escape(str(a["action"])) << "</b> ("
            << num(a["calls"]) << " calls";
        if (num(a["failed_calls"]) > 0) {
          out << ", " << num(a["failed_calls"]) << " failed:";
          for (const auto &c : a["error_codes"])
            out << " " << escape(str(c["code"])) << " " << num(c["calls"]);
        }
        out << "): <span class=\"remediation\">" << with_code(str(a["remediation"]))
            << "</span></li>";
      }
      out << "</ul>\n";
      top_list(out, "Command lines", o["command_lines"]);
      top_list(out, "Sockets", o["sockets"]);
      top_list(out, "Configuration files", o["config_files"]);
      top_list(out, "TCP destinations", o["destinations"]);
      top_list(out, "Service control", o["service_actions"]);
      top_list(out, "Runtime sockets", o["runtimes"]);
      out << "</section>\n";
    }
  }
  out << "<script>" << script << "</script>\n</body></html>\n";
}

} // namespace shimwatch::report
