// Durable audit log file: being written.
#include "shimwatch/sink.hpp"
