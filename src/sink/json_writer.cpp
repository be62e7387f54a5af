#include "sink/json_writer.hpp"

#include <charconv>

#include "shimwatch/sink.hpp"

namespace shimwatch {

JsonWriter &JsonWriter::object() {
  separate();
  out_ += '{';
  closers_.push_back('}');
  first_ = true;
  return *this;
}

JsonWriter &JsonWriter::array() {
  separate();
  out_ += '[';
  closers_.push_back(']');
  first_ = true;
  return *this;
}

JsonWriter &JsonWriter::end() {
  if (!closers_.empty()) {
    out_ += closers_.back();
    closers_.pop_back();
  }
  first_ = false;
  return *this;
}

JsonWriter &JsonWriter::key(std::string_view name) {
  separate();
  out_ += '"';
  out_ += name;
  out_ += "\":";
  first_ = true; // the value that follows takes no comma
  return *this;
}

JsonWriter &JsonWriter::key_from(std::string_view name, bool *replaced) {
  separate();
  append_string(name, replaced);
  out_ += ':';
  first_ = true;
  return *this;
}

JsonWriter &JsonWriter::value(std::string_view text, bool *replaced) {
  separate();
  append_string(text, replaced);
  return *this;
}

void JsonWriter::append_string(std::string_view text, bool *replaced) {
  out_ += '"';
  bool ascii = true;
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii || utf8::valid(text))
    append_escaped(text);
  else
    append_escaped(utf8::sanitize(text, replaced));
  out_ += '"';
}

JsonWriter &JsonWriter::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
  return *this;
}

void JsonWriter::append_signed(int64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, end);
}

void JsonWriter::append_unsigned(uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, end);
}

void JsonWriter::append_escaped(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  size_t plain_from = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out_.append(text.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
    case '"':
      out_ += "\\\"";
      break;
    case '\\':
      out_ += "\\\\";
      break;
    case '\b':
      out_ += "\\b";
      break;
    case '\f':
      out_ += "\\f";
      break;
    case '\n':
      out_ += "\\n";
      break;
    case '\r':
      out_ += "\\r";
      break;
    case '\t':
      out_ += "\\t";
      break;
    default:
      out_ += "\\u00";
      out_ += hex[c >> 4];
      out_ += hex[c & 0xF];
    }
  }
  out_.append(text.data() + plain_from, text.size() - plain_from);
}

} // namespace shimwatch
