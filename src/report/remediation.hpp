// What to do about each kind of Docker dependency, before Docker goes.
#pragma once

#include <string>
#include <string_view>

#include "report/aggregator.hpp"

namespace shimwatch::report {

// A short instruction for one action of one origin; it names the commands,
// sockets, files and agents seen where that changes the advice.
std::string remediation(std::string_view action, const OriginStats &origin);

// The docker CLI subcommand of a command line ("docker -H x ps -a" -> "ps"),
// empty when there is none.
std::string docker_subcommand(std::string_view command_line);

} // namespace shimwatch::report
