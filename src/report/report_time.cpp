#include "report/report_time.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace shimwatch::report {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int &out) {
  if (pos + count > text.size())
    return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

} // namespace

std::optional<Micros> parse_rfc3339(std::string_view text) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31)
    return std::nullopt;
  std::size_t pos = 10;
  Micros fraction = 0;
  Micros offset_seconds = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')
      return std::nullopt;
    if (!read_digits(text, pos + 1, 2, hour) || text.size() < pos + 9 || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, minute) || text[pos + 6] != ':' ||
        !read_digits(text, pos + 7, 2, second))
      return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60)
      return std::nullopt;
    pos += 9;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      Micros scale = 100000;
      std::size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        fraction += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        ++digits;
      }
      if (digits == 0)
        return std::nullopt;
    }
    if (pos >= text.size())
      return std::nullopt; // a time needs a zone
    if (text[pos] == 'Z' || text[pos] == 'z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      int off_h, off_m;
      if (!read_digits(text, pos + 1, 2, off_h) || text.size() < pos + 6 || text[pos + 3] != ':' ||
          !read_digits(text, pos + 4, 2, off_m))
        return std::nullopt;
      offset_seconds = (Micros{off_h} * 3600 + Micros{off_m} * 60) * (text[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return std::nullopt;
    }
    if (pos != text.size())
      return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const Micros seconds =
      days * 86400 + Micros{hour} * 3600 + Micros{minute} * 60 + second - offset_seconds;
  return seconds * 1'000'000 + fraction;
}

std::optional<Micros> parse_time_bound(std::string_view text, Micros now) {
  if (text.size() >= 2) {
    const char unit = text.back();
    const Micros unit_seconds = unit == 's'   ? 1
                                : unit == 'm' ? 60
                                : unit == 'h' ? 3600
                                : unit == 'd' ? 86400
                                              : 0;
    std::int64_t amount = 0;
    const auto digits = text.substr(0, text.size() - 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), amount);
    if (unit_seconds != 0 && ec == std::errc() && end == digits.data() + digits.size() &&
        amount >= 0 && amount < 100LL * 365 * 86400 / unit_seconds)
      return now - amount * unit_seconds * 1'000'000;
  }
  return parse_rfc3339(text);
}

Micros now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace shimwatch::report
