// The agent's own log: one line per message on stderr, UTC timestamps.
#pragma once

namespace shimwatch {

// Sets up the default logger (debug and libbpf's debug output when verbose).
// Each message is escaped (utf8::escape_controls): a path or a name a
// workload chose can hold line breaks or escape sequences, and `kubectl logs`
// merges stderr into the stream of events, so no message may break a line.
void setup_logging(bool verbose);

} // namespace shimwatch
