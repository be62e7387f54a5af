// Names and text shared by every stage: host, clock, errno names, UTF-8.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unistd.h>

#include "shimwatch/text.hpp"

namespace shimwatch {

HostInfo HostInfo::local() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0)
    return HostInfo{"unknown"};
  return HostInfo{name};
}

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string errno_name(int error) {
  if (const char *name = strerrorname_np(error))
    return name;
  return "E" + std::to_string(error);
}

std::string errno_text(int error) {
  return std::strerror(error < 0 ? -error : error);
}

namespace {

bool needs_quoting(const std::string &arg) {
  if (arg.empty())
    return true;
  for (unsigned char c : arg) {
    if (c <= ' ' || c == 0x7f || std::strchr("'\"\\$`!*?[]{}()<>|&;#~", c))
      return true;
  }
  return false;
}

// Length of the valid UTF-8 sequence at s[0], or 0 if it is not one.
size_t sequence_length(const unsigned char *s, size_t left) {
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t len;
  uint32_t min;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (left < len)
    return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

} // namespace

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string command_line(const std::vector<std::string> &args) {
  std::string out;
  for (const auto &arg : args) {
    if (!out.empty())
      out += ' ';
    if (!needs_quoting(arg)) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

namespace utf8 {

bool valid(std::string_view text) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  for (size_t i = 0; i < text.size();) {
    size_t len = sequence_length(s + i, text.size() - i);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

std::string sanitize(std::string_view text, bool *replaced) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = sequence_length(s + i, text.size() - i);
    if (len == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER
      if (replaced)
        *replaced = true;
      i += 1;
      continue;
    }
    out.append(text.data() + i, len);
    i += len;
  }
  return out;
}

namespace {

// Code points that move or hide text on a terminal or in an editor.
bool hides_text(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||     // C1 controls (CSI among them)
         cp == 0x200E || cp == 0x200F ||   // left-to-right and right-to-left marks
         (cp >= 0x202A && cp <= 0x202E) || // bidirectional embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069) || // bidirectional isolates
         cp == 0x2028 || cp == 0x2029;     // line and paragraph separators
}

uint32_t code_point(const unsigned char *s, size_t len) {
  if (len == 1)
    return s[0];
  uint32_t cp = s[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < len; ++i)
    cp = (cp << 6) | (s[i] & 0x3F);
  return cp;
}

} // namespace

std::string escape_controls(std::string_view text) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  std::string out;
  out.reserve(text.size());
  char hex[16];
  for (size_t i = 0; i < text.size();) {
    size_t len = sequence_length(s + i, text.size() - i);
    if (len == 0 || (len == 1 && (s[i] < 0x20 || s[i] == 0x7F))) {
      if (s[i] == '\n')
        out += "\\n";
      else if (s[i] == '\r')
        out += "\\r";
      else if (s[i] == '\t')
        out += "\\t";
      else {
        std::snprintf(hex, sizeof(hex), "\\x%02x", s[i]);
        out += hex;
      }
      i += 1;
      continue;
    }
    if (uint32_t cp = code_point(s + i, len); hides_text(cp)) {
      std::snprintf(hex, sizeof(hex), "\\u{%04x}", cp);
      out += hex;
    } else {
      out.append(text.data() + i, len);
    }
    i += len;
  }
  return out;
}

} // namespace utf8

} // namespace shimwatch
