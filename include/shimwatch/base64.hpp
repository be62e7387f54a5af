// Base64 (RFC 4648, with padding), by OpenSSL: argv bytes that are not
// UTF-8 in events, certificate data in kubeconfig files.
#pragma once

#include <string>
#include <string_view>

#include "shimwatch/result.hpp"

namespace shimwatch {

std::string base64_encode(std::string_view bytes);

// Line breaks and spaces (as PEM and YAML wrap it) are skipped; anything
// else that is not base64 is an error.
Result<std::string> base64_decode(std::string_view text);

} // namespace shimwatch
