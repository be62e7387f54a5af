// The report document and its renderers (json, md, html).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "report/aggregator.hpp"
#include "report/scan_evidence.hpp"

namespace shimwatch::report {

inline constexpr int report_schema_version = 1;

struct RenderContext {
  const Aggregator &data;
  std::vector<std::string> inputs; // the LOG arguments, as given
  Micros generated_at = 0;
  const Evidence *evidence = nullptr; // with --scan: static and runtime evidence merged
};

// The report as a JSON document (schema in README.md, "Readiness report");
// the Markdown and HTML renderers draw from it too.
nlohmann::ordered_json build_report_document(const RenderContext &context);

void render_json(const nlohmann::ordered_json &document, std::ostream &out);
void render_markdown(const nlohmann::ordered_json &document, std::ostream &out);
void render_html(const nlohmann::ordered_json &document, std::ostream &out);

// A human name for an origin ("monitoring/DaemonSet/dd-agent", "cron.service", "uid 1000").
std::string origin_label(const OriginStats &origin);

// Appends c, or "\xNN" for a control byte: what no report format shows as is.
void append_printable(std::string &out, unsigned char c);

} // namespace shimwatch::report
