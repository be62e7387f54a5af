// A JSON text written as it goes, with no document tree in between. The
// agent's records have a fixed shape; building an nlohmann tree for each one
// and serialising it cost more CPU than everything else done per event.
// The output is what nlohmann::ordered_json::dump() (no indent, not ASCII
// only) would give for the same tree.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shimwatch {

class JsonWriter {
public:
  JsonWriter() { out_.reserve(2048); }

  JsonWriter &object();
  JsonWriter &array();
  // Closes the innermost object or array.
  JsonWriter &end();
  // Member names are ours: ASCII, nothing to escape.
  JsonWriter &key(std::string_view name);
  // A member name from outside (a pod label): escaped, and bytes that are
  // not UTF-8 become U+FFFD, setting *replaced.
  JsonWriter &key_from(std::string_view name, bool *replaced);

  // Bytes that are not UTF-8 become U+FFFD, and *replaced is set.
  JsonWriter &value(std::string_view text, bool *replaced = nullptr);
  JsonWriter &value(const char *text) { return value(std::string_view(text)); }
  JsonWriter &value(bool b);
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonWriter &value(T number) {
    separate();
    if constexpr (std::is_signed_v<T>)
      append_signed(static_cast<int64_t>(number));
    else
      append_unsigned(static_cast<uint64_t>(number));
    return *this;
  }

  template <typename T> JsonWriter &field(std::string_view name, const T &v) {
    key(name);
    return value(v);
  }
  JsonWriter &field(std::string_view name, std::string_view text, bool *replaced) {
    key(name);
    return value(text, replaced);
  }
  // "name": [ "text" ], as ECS wants for categories and types.
  JsonWriter &field_list(std::string_view name, std::string_view text) {
    key(name).array().value(text);
    return end();
  }

  std::string take() { return std::move(out_); }

private:
  void separate() {
    if (!first_)
      out_ += ',';
    first_ = false;
  }
  void append_signed(int64_t n);
  void append_unsigned(uint64_t n);
  void append_string(std::string_view text, bool *replaced);
  void append_escaped(std::string_view text);

  std::string out_;
  std::vector<char> closers_;
  bool first_ = true; // nothing written yet in the innermost container, or a key just was
};

} // namespace shimwatch
