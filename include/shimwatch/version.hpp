#pragma once

#include <string_view>

namespace shimwatch {

// The release, set by the build (CMake project version, plus git describe when available).
std::string_view version();

} // namespace shimwatch
