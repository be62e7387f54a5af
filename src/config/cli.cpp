#include "shimwatch/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shimwatch/cli_args.hpp"
#include "config/settings_table.hpp"

namespace shimwatch {

namespace {

Result<std::string> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{"--config " + path + ": cannot open the file: " + std::strerror(errno), errno};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return Error{"--config " + path + ": read failed"};
  return buf.str();
}

// The options of run, check and cleanup that are not settings.
const OptionHelp config_option{"-c, --config", "FILE",
                               "JSON config; its keys replace the defaults (see `shimwatch run "
                               "--print-config`)",
                               "embedded"};
const OptionHelp print_config_option{"--print-config", "",
                                     "print the effective config as JSON and exit", ""};
const OptionHelp verbose_option{"-v, --verbose", "", "debug logging, libbpf's included", ""};

// "-c, --config" -> "-c,--config", the spelling CLI11 takes.
std::string cli11_names(const std::string &names) {
  std::string out = names;
  out.erase(std::remove(out.begin(), out.end(), ' '), out.end());
  return out;
}

// One option's help, in the column layout of usage_text.
void append_option_help(std::string &out, const OptionHelp &option) {
  constexpr size_t help_column = 31;
  constexpr size_t width = 80;
  std::string left = option.names.rfind("--", 0) == 0 ? "      " : "  ";
  left += option.names;
  if (!option.value_name.empty())
    left += " " + option.value_name;
  std::string help = option.help;
  std::string shown_default = option.default_text;
  shown_default.erase(std::remove(shown_default.begin(), shown_default.end(), '`'),
                      shown_default.end());
  if (!shown_default.empty())
    help += " (default: " + shown_default + ")";

  std::string line = left;
  if (line.size() + 1 > help_column) {
    out += line + "\n";
    line.clear();
  }
  line.resize(help_column, ' ');
  bool first_word = true;
  std::istringstream words(help);
  for (std::string word; words >> word;) {
    if (!first_word && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(help_column, ' ');
      first_word = true;
    }
    line += (first_word ? "" : " ") + word;
    first_word = false;
  }
  out += line + "\n";
}

} // namespace

std::vector<OptionHelp> run_options() {
  const Config defaults = default_config();
  std::vector<OptionHelp> out{config_option};
  for (const auto &setting : settings::table()) {
    if (setting.flag.empty())
      continue;
    std::string help(setting.help);
    if (setting.kind == settings::Kind::count)
      help += ", " + settings::allowed_range(setting);
    out.push_back({std::string(setting.flag), std::string(setting.value_name), help,
                   settings::default_text(setting, defaults)});
  }
  out.push_back(print_config_option);
  out.push_back(verbose_option);
  return out;
}

Result<CliRequest> parse_cli(const std::vector<std::string> &args) {
  CliRequest request;
  if (args.empty())
    return request; // help

  const std::string &sub = args[0];
  if (sub == "run")
    request.command = Command::run;
  else if (sub == "check")
    request.command = Command::check;
  else if (sub == "cleanup")
    request.command = Command::cleanup;
  else if (sub == "version" || sub == "--version")
    request.command = Command::version;
  else if (sub == "help" || sub == "--help" || sub == "-h")
    request.command = Command::help;
  else
    return Error{"unknown command '" + sub +
                 "' (commands: run, check, cleanup, report, scan, version, help)"};

  if (request.command == Command::version || request.command == Command::help) {
    for (size_t i = 1; i < args.size(); ++i)
      if (args[i] != "-h" && args[i] != "--help")
        return Error{"'" + args[i].substr(0, args[i].find('=')) + "' is not an option of '" + sub +
                     "'"};
    return request;
  }

  CLI::App app;
  app.set_help_flag(); // -h is ours: usage_text, not CLI11's
  app.allow_extras();  // reported below, in our words
  auto *help = app.add_flag("-h,--help")->disable_flag_override();
  auto *verbose = app.add_flag("-v,--verbose")->disable_flag_override();
  CLI::Option *print_config = nullptr;
  if (request.command == Command::run)
    print_config = app.add_flag("--print-config")->disable_flag_override();
  auto *config_file = app.add_option(cli11_names(config_option.names))->expected(1);
  config_file->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  const auto &table = settings::table();
  std::vector<CLI::Option *> flags(table.size(), nullptr);
  for (size_t i = 0; i < table.size(); ++i) {
    const auto &setting = table[i];
    if (setting.flag.empty())
      continue;
    const std::string name(setting.flag);
    if (setting.value_name.empty())
      flags[i] = app.add_flag(name)->disable_flag_override();
    else
      flags[i] =
          app.add_option(name)->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }

  const std::vector<std::string> options(args.begin() + 1, args.end());
  try {
    app.parse(cli_args::for_cli11(app, options));
  } catch (const CLI::ParseError &e) {
    return Error{cli_args::parse_error_message(app, e, options, " (see shimwatch --help)")};
  }
  if (const auto extras = app.remaining(); !extras.empty())
    return Error{"unknown option '" + extras.front().substr(0, extras.front().find('=')) +
                 "' for '" + sub + "' (see shimwatch --help)"};
  if (help->count() > 0) {
    request.command = Command::help;
    return request;
  }
  request.verbose = verbose->count() > 0;
  request.print_config = print_config != nullptr && print_config->count() > 0;

  for (size_t i = 0; i < table.size(); ++i) {
    const auto &setting = table[i];
    if (!flags[i] || flags[i]->count() == 0 || setting.excludes.empty())
      continue;
    if (const auto *other = app.get_option_no_throw(std::string(setting.excludes));
        other && other->count() > 0)
      return Error{std::string(setting.flag) + " and " + std::string(setting.excludes) +
                   " exclude each other (give one)"};
  }

  // The defaults, then the file, then the flags, wherever --config stands.
  Config config = default_config();
  if (config_file->count() > 0) {
    const std::string path = config_file->results().back();
    auto text = read_file(path);
    if (!text)
      return text.error();
    auto applied = apply_config_json(*text, config);
    if (!applied)
      return Error{path + ": " + applied.error().message};
    config = *applied;
  }
  for (size_t i = 0; i < table.size(); ++i) {
    if (!flags[i] || flags[i]->count() == 0)
      continue;
    // A switch has no value; its row only needs to know it was given.
    const std::vector<std::string> values =
        table[i].value_name.empty() ? std::vector<std::string>{""} : flags[i]->results();
    if (auto applied = settings::apply_flag(table[i], values, config); !applied)
      return applied.error();
  }
  if (!config.stdout_enabled && config.log_file.empty() && config.syslog.url.empty() &&
      request.command == Command::run && !request.print_config)
    return Error{"--no-stdout without --log-file or --syslog leaves no output; give --log-file "
                 "PATH or --syslog URL"};

  if (auto valid = validate_config(config); !valid)
    return valid.error();
  request.config = std::move(config);
  return request;
}

std::string usage_text() {
  std::string options;
  for (const auto &option : run_options())
    append_option_help(options, option);
  append_option_help(options, {"-h, --help", "", "this text", ""});
  return R"(shimwatch - find what depends on Docker Engine on this node

USAGE
  shimwatch run [OPTIONS]      watch exec and socket activity, print events
  shimwatch check [OPTIONS]    preflight: can this node run the agent?
  shimwatch cleanup [OPTIONS]  detach the pinned probes and remove their
                               maps (--pin-path, default:
                               /sys/fs/bpf/shimwatch); for uninstalling
  shimwatch report [OPTIONS] LOG...
                               audit logs of many nodes -> what must change
                               before Docker is removed (`report --help`)
  shimwatch scan [OPTIONS]     Docker dependencies in workload specs, from
                               the cluster or manifests (`scan --help`)
  shimwatch version            print the version
  shimwatch help               this text

OPTIONS (run, check; cleanup takes -c and --pin-path)
)" + options +
         R"(
Also reported: systemctl, service and /etc/init.d/docker starting, stopping,
restarting, enabling ... Docker (config: watch.service_control). Left out and
counted: the agent itself, dockerd, containerd, containerd-shim*, kubelet
(config: exclude).

Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN to mount tracefs and bpffs) and
Linux 5.8 or later with BTF (/sys/kernel/btf/vmlinux). Exit codes: 0 ok, 1 check found problems,
2 bad usage or cannot start.

EXAMPLES
  shimwatch run                                  # JSON lines on stdout
  shimwatch run --format text                    # aligned columns
  shimwatch run --log-file /var/log/shimwatch/audit.json --no-stdout
  shimwatch run --syslog tls://siem.example.com:6514 --syslog-ca-file /etc/ssl/siem-ca.pem
  shimwatch run --watch-socket /host/run/docker.sock --watch-exec nerdctl
  shimwatch run --watch-runtime containerd       # also who talks to containerd
  shimwatch run --config /etc/shimwatch/config.json
  shimwatch check
)";
}

} // namespace shimwatch
