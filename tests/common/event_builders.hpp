// Events as the decoder hands them on, built for tests of the stages after
// it (attribution, de-duplication, the output queue, the sinks).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shimwatch/event.hpp"

namespace swtest {

// An Event built field by field; it converts to shimwatch::Event where one
// is wanted: sink.write(cli_exec(7).args({"docker", "run", "x"}).at(t)).
class EventBuilder {
public:
  EventBuilder &pid(uint32_t pid) {
    event_.process.pid = pid;
    return *this;
  }
  EventBuilder &args(std::vector<std::string> args) {
    event_.process.args = std::move(args);
    return *this;
  }
  EventBuilder &at(int64_t timestamp_ns) {
    event_.timestamp_ns = timestamp_ns;
    return *this;
  }
  // A connect to socket_path instead of an exec; error: its errno, 0 when it succeeded.
  EventBuilder &connect_to(std::string socket_path, int error = 0) {
    event_.action = shimwatch::Action::docker_socket_connect;
    event_.socket_path = std::move(socket_path);
    event_.error = error;
    return *this;
  }
  const shimwatch::Event &build() const { return event_; }
  operator shimwatch::Event() const { return event_; }

private:
  shimwatch::Event event_;
};

// `docker ps` run by pid, at Unix time 0 unless at() says otherwise.
inline EventBuilder cli_exec(uint32_t pid) {
  EventBuilder builder;
  builder.pid(pid).args({"docker", "ps"});
  return builder;
}

} // namespace swtest
