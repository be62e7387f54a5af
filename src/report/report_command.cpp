#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>
#include <tuple>

#include "shimwatch/cli_args.hpp"
#include "report/aggregator.hpp"
#include "report/line_parser.hpp"
#include "report/log_reader.hpp"
#include "report/render.hpp"
#include "report/scan_evidence.hpp"
#include "shimwatch/report.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

namespace {

using namespace report;

constexpr int exit_ok = 0;
constexpr int exit_incomplete = 1; // a file could not be read, or the report not written
constexpr int exit_usage = 2;

const char *const usage =
    R"(Usage: shimwatch report [OPTIONS] LOG...

Reads shimwatch audit logs (JSON lines, from one node or many) and writes a
readiness report: every workload, systemd unit, login user and host program
that used Docker, what it did, how often, on which nodes, and what to change
before Docker is removed.

LOG is a file (plain or gzip-compressed, rotated files included) or - for
stdin. Lines of `kubectl logs --prefix` ("[pod/NAME/CONTAINER] {...}") are
read as well. Malformed lines, truncated gzip data and other tools' lines are
counted in the report's summary, never fatal.

Options:
  --format md|html|json  report format (default md); json has a stable schema
                         ("schema_version")
  --since TIME           only records at or after TIME
  --until TIME           only records at or before TIME
                         TIME: RFC 3339 (2026-11-25T14:00:00Z), a date
                         (2026-11-25, midnight UTC) or an age (36h, 7d, 90m)
  -o, --output FILE      write the report to FILE (default stdout)
  --top N                command lines, sockets, files listed per origin,
                         1-1000 (default 10)
  --scan FILE            merge the output of `shimwatch scan --format json`:
                         per workload, mounted and used, mounted but not used
                         during the window, or used without any mount
  -h, --help             this text

Progress goes to stderr when stderr is a terminal.
Exit status: 0 report written, 1 report written but some input could not be
read (or the report could not be written), 2 bad usage or a --scan FILE that
is not a scan document.

EXAMPLES
  shimwatch report /var/log/shimwatch/audit.log* > report.md
  kubectl logs -n shimwatch -l app=shimwatch --prefix --tail=-1 \
    | shimwatch report --format html -o report.html -
  shimwatch report --format json --since 7d node-*/audit.log.gz | jq '.origins[].label'
  shimwatch scan -f deploy/ --format json -o scan.json
  shimwatch report --scan scan.json node-*/audit.log* > report.md
)";

struct ReportRequest {
  std::string format = "md";
  std::string output; // empty: stdout
  std::string scan;   // empty: no static evidence to merge
  ReportOptions options;
  std::vector<std::string> inputs;
  bool help = false;
};

Result<ReportRequest> parse_arguments(const std::vector<std::string> &args) {
  ReportRequest request;
  std::string since, until;
  CLI::App app;
  app.set_help_flag(); // -h is ours: the usage above, not CLI11's
  app.allow_extras();  // reported below, in our words
  auto *help = app.add_flag("-h,--help")->disable_flag_override();
  auto *format = app.add_option("--format", request.format);
  auto *since_option = app.add_option("--since", since);
  auto *until_option = app.add_option("--until", until);
  auto *output = app.add_option("-o,--output", request.output);
  auto *top = app.add_option("--top");
  auto *scan = app.add_option("--scan", request.scan);
  for (auto *option : {format, since_option, until_option, output, top, scan})
    option->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("LOG", request.inputs);
  try {
    app.parse(cli_args::for_cli11(app, args));
  } catch (const CLI::ParseError &e) {
    return Error{cli_args::parse_error_message(app, e, args)};
  }
  for (const auto &extra : app.remaining())
    if (extra != "--")
      return Error{"unknown option " + extra.substr(0, extra.find('=')) +
                   " (see shimwatch report --help)"};
  request.help = help->count() > 0;
  if (request.help)
    return request;

  if (request.format != "md" && request.format != "html" && request.format != "json")
    return Error{"--format " + request.format + ": allowed are md, html, json"};
  const Micros now = now_micros();
  for (auto [option, values, bound] : {std::tuple{since_option, &since, &request.options.since},
                                       std::tuple{until_option, &until, &request.options.until}}) {
    if (option->count() == 0)
      continue;
    const auto t = parse_time_bound(*values, now);
    if (!t)
      return Error{option->get_name() + " " + *values +
                   ": expected RFC 3339 (2026-11-25T14:00:00Z), a date (2026-11-25) or "
                   "an age (36h, 7d, 90m, 45s)"};
    *bound = *t;
  }
  if (output->count() > 0 && request.output.empty())
    return Error{cli_args::as_typed(*output, args) + " needs a file name"};
  if (scan->count() > 0 && request.scan.empty())
    return Error{"--scan needs a file name"};
  if (top->count() > 0) {
    const std::string &value = top->results().back();
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 1000)
      return Error{"--top " + value + ": expected a number from 1 to 1000"};
    request.options.top = n;
  }
  if (request.inputs.empty())
    return Error{"no LOG given (a file, or - for stdin)"};
  if (request.options.since && request.options.until &&
      *request.options.since > *request.options.until)
    return Error{"--since is after --until"};
  return request;
}

// "bytes read of total, rate, files done" on one terminal line, at most 5 times a second.
class Progress {
public:
  Progress(bool enabled, std::uint64_t total_bytes, std::size_t files)
      : enabled_(enabled), total_(total_bytes), files_(files),
        start_(std::chrono::steady_clock::now()) {}

  void add_bytes(std::uint64_t n) {
    bytes_ += n;
    maybe_draw();
  }
  void file_done() {
    ++done_;
    maybe_draw();
  }
  void finish() {
    if (enabled_ && drawn_)
      std::fputs("\r\033[K", stderr);
  }

private:
  static std::string mib(std::uint64_t bytes) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return buffer;
  }

  void maybe_draw() {
    if (!enabled_)
      return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200))
      return;
    last_draw_ = now;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(bytes_) / (1 << 20) / seconds : 0;
    std::string line = "\r\033[Kreport: " + mib(bytes_);
    if (total_ > 0)
      line += " of " + mib(total_) + " (" +
              std::to_string(std::min<std::uint64_t>(100, bytes_ * 100 / total_)) + "%)";
    char tail[96];
    std::snprintf(tail, sizeof tail, ", %.1f MiB/s, files %zu/%zu", rate, done_, files_);
    line += tail;
    std::fputs(line.c_str(), stderr);
  }

  bool enabled_;
  std::uint64_t total_;
  std::size_t files_;
  std::uint64_t bytes_ = 0;
  std::size_t done_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

void read_input(const std::string &path, Aggregator &aggregator, Progress &progress) {
  InputStats &in = aggregator.input();
  ParsedRecord record;
  std::string why;
  auto on_line = [&](std::string_view line) {
    ++in.lines;
    if (strip_kubectl_prefix(line))
      ++in.kubectl_prefixed_lines;
    switch (parse_line(line, record, &why)) {
    case LineKind::record:
      ++in.records;
      aggregator.add(record);
      break;
    case LineKind::blank:
      ++in.blank_lines;
      break;
    case LineKind::malformed:
      ++in.malformed_lines;
      in.malformed_reasons.add(why);
      break;
    case LineKind::foreign:
      ++in.foreign_lines;
      break;
    }
  };
  auto on_progress = [&](std::uint64_t n) {
    in.bytes += n;
    progress.add_bytes(n);
  };
  ++in.files;
  const FileReadResult result = read_log(path, on_line, on_progress);
  in.oversize_lines += result.oversize_lines;
  in.truncated_gzip_members += result.truncated_gzip_members;
  if (result.corrupt_gzip)
    ++in.corrupt_gzip_streams;
  if (!result.error.empty()) {
    in.unreadable_files.push_back(path + ": " + result.error);
    std::fprintf(stderr, "shimwatch report: %s: %s\n", path.c_str(), result.error.c_str());
  }
  progress.file_done();
}

} // namespace

int run_report_command(const std::vector<std::string> &args) {
  const auto parsed = parse_arguments(args);
  if (!parsed) {
    std::fprintf(stderr, "shimwatch report: %s\n", parsed.error().message.c_str());
    return exit_usage;
  }
  const ReportRequest &request = *parsed;
  if (request.help) {
    std::fputs(usage, stdout);
    return exit_ok;
  }

  // Read before the logs, which may take long: a wrong file fails at once.
  ScanLoadResult scan;
  if (!request.scan.empty()) {
    scan = load_scan_file(request.scan);
    if (!scan.document) {
      std::fprintf(stderr, "shimwatch report: --scan %s\n", scan.error.c_str());
      return exit_usage;
    }
  }

  std::uint64_t total_bytes = 0;
  for (const auto &path : request.inputs) {
    struct stat st {};
    if (path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total_bytes += static_cast<std::uint64_t>(st.st_size);
  }
  Progress progress(::isatty(STDERR_FILENO) == 1, total_bytes, request.inputs.size());
  Aggregator aggregator(request.options);
  for (const auto &path : request.inputs)
    read_input(path, aggregator, progress);
  progress.finish();
  aggregator.resolve_pods();

  std::optional<Evidence> evidence;
  if (scan.document)
    evidence = merge_evidence(*scan.document, aggregator.sorted_origins());
  const auto document = build_report_document({.data = aggregator,
                                               .inputs = request.inputs,
                                               .generated_at = now_micros(),
                                               .evidence = evidence ? &*evidence : nullptr});
  auto render = [&](std::ostream &out) {
    if (request.format == "json")
      render_json(document, out);
    else if (request.format == "html")
      render_html(document, out);
    else
      render_markdown(document, out);
    out.flush();
    return static_cast<bool>(out);
  };

  bool written = true;
  if (request.output.empty()) {
    written = render(std::cout);
  } else {
    // Written next to the target and renamed, so a reader never sees half a report.
    const std::string temporary = request.output + ".tmp";
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    written = file && render(file);
    file.close();
    written = written && file && std::rename(temporary.c_str(), request.output.c_str()) == 0;
    if (!written)
      std::remove(temporary.c_str());
  }
  if (!written) {
    std::fprintf(stderr, "shimwatch report: could not write the report to %s\n",
                 request.output.empty() ? "stdout" : request.output.c_str());
    return exit_incomplete;
  }
  return aggregator.input().unreadable_files.empty() ? exit_ok : exit_incomplete;
}

} // namespace shimwatch
