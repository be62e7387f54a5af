// The config, translated into what each stage is given: the stages below
// the config know their own options, never the config file's layout.
#include <algorithm>

#include "shimwatch/config.hpp"

namespace shimwatch {

ProbeOptions probe_options(const Config &config) {
  ProbeOptions options;
  options.watch_exec = watched_exec_names(config);
  options.watch_sockets = watched_socket_paths(config);
  options.watch_tcp_ports = config.watch_tcp_ports;
  options.watch_config_opens = !config.watch_config_paths.empty();
  options.check_new_binaries = config.watch_exec_build_id_check;
  options.config_rename_prefixes = config.watch_config_paths;
  options.ring_buffer_bytes = config.ring_buffer_kib * 1024;
  // Woken per batch of records: a sixteenth of the ring buffer, at most
  // 256 KiB (about 50 connect records), so a burst never waits for the timer.
  options.wakeup_bytes = std::min<uint32_t>(options.ring_buffer_bytes / 16, 256 * 1024);
  options.pin_path = config.pin_path;
  options.hooks = config.hooks == "functions"         ? HookChoice::functions
                  : config.hooks == "tracepoints"     ? HookChoice::tracepoints
                  : config.hooks == "raw-tracepoints" ? HookChoice::raw_tracepoints
                                                      : HookChoice::automatic;
  // Links that must outlive the agent (check's trial load pins nothing, but
  // loads what run would).
  options.pin_links = !config.pin_path.empty();
  return options;
}

} // namespace shimwatch
