// Samples read back from a Prometheus text exposition (the agent's /metrics).
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

namespace swtest {

// Every sample of a metric family: its labels as written, without the braces
// ("" for none) → its value.
inline std::map<std::string, double> metric_samples(const std::string &exposition,
                                                    const std::string &family) {
  std::map<std::string, double> samples;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(family, 0) != 0 || line.size() <= family.size())
      continue;
    const char after_name = line[family.size()];
    const size_t value_at = line.rfind(' ');
    if ((after_name != ' ' && after_name != '{') || value_at == std::string::npos)
      continue;
    std::string labels;
    if (after_name == '{') {
      const size_t close = line.rfind('}', value_at);
      if (close == std::string::npos)
        continue;
      labels = line.substr(family.size() + 1, close - family.size() - 1);
    }
    samples[labels] = std::strtod(line.c_str() + value_at + 1, nullptr);
  }
  return samples;
}

// The sum of the samples of a family whose labels match label_pattern (a
// regex searched in them; "" for every sample, and for a family without
// labels).
inline double metric_sum(const std::string &exposition, const std::string &family,
                         const std::string &label_pattern = "") {
  const std::regex labels_wanted(label_pattern);
  double sum = 0;
  for (const auto &[labels, value] : metric_samples(exposition, family))
    if (label_pattern.empty() || std::regex_search(labels, labels_wanted))
      sum += value;
  return sum;
}

// The value of the one sample written `family{labels}` (or `family` alone),
// labels exactly as the exposition writes them; nullopt when absent.
inline std::optional<double> sample_value(const std::string &exposition,
                                          const std::string &series) {
  const size_t brace = series.find('{');
  const std::string family = series.substr(0, brace);
  const std::string labels =
      brace == std::string::npos ? "" : series.substr(brace + 1, series.size() - brace - 2);
  const auto samples = metric_samples(exposition, family);
  const auto found = samples.find(labels);
  if (found == samples.end())
    return std::nullopt;
  return found->second;
}

} // namespace swtest
