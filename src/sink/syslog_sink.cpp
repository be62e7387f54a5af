// Syslog transport (UDP, TCP, TLS): being written.
#include "shimwatch/syslog.hpp"
