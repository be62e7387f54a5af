// The README's table of `shimwatch run` options against the options the
// settings table gives run: the same flags, value names and defaults.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "shimwatch/config.hpp"

namespace {

struct ReadmeRow {
  std::string option; // the first cell without its backticks: "--log-max-mib N"
  std::string default_text;
};

std::string trim(const std::string &s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos)
    return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// Cells of a markdown table row; "\|" is a | inside a cell.
std::vector<std::string> cells(const std::string &line) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      out.push_back(trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return out;
}

// The rows of the table headed "| option | meaning | default |".
std::vector<ReadmeRow> readme_options() {
  std::ifstream in(SHIMWATCH_README);
  EXPECT_TRUE(in) << "cannot read " << SHIMWATCH_README;
  std::vector<ReadmeRow> rows;
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "| option | meaning | default |") {
      in_table = true;
      continue;
    }
    if (!in_table)
      continue;
    if (line.rfind("|", 0) != 0)
      break;
    if (line.rfind("| ---", 0) == 0)
      continue;
    auto row = cells(line);
    EXPECT_EQ(row.size(), 3u) << line;
    if (row.size() != 3)
      continue;
    std::string option = row[0];
    EXPECT_TRUE(option.size() > 2 && option.front() == '`' && option.back() == '`') << line;
    rows.push_back({option.substr(1, option.size() - 2), row[2]});
  }
  return rows;
}

std::string shown(const shimwatch::OptionHelp &option) {
  return option.names + (option.value_name.empty() ? "" : " " + option.value_name);
}

TEST(ReadmeOptions, EveryRunOptionIsInTheReadmeWithItsDefault) {
  std::map<std::string, std::string> readme;
  for (const auto &row : readme_options())
    readme[row.option] = row.default_text;
  ASSERT_GT(readme.size(), 30u) << "the options table was not found in " << SHIMWATCH_README;
  for (const auto &option : shimwatch::run_options()) {
    auto row = readme.find(shown(option));
    if (row == readme.end()) {
      ADD_FAILURE() << "README.md has no row for `" << shown(option) << "`";
      continue;
    }
    EXPECT_EQ(row->second, option.default_text) << "default of " << shown(option);
  }
}

TEST(ReadmeOptions, EveryReadmeRowIsARunOption) {
  std::map<std::string, bool> options;
  for (const auto &option : shimwatch::run_options())
    options[shown(option)] = true;
  for (const auto &row : readme_options())
    EXPECT_TRUE(options.count(row.option))
        << "README.md documents `" << row.option << "`, which `shimwatch run` does not take";
}

// The check above reads the same table the flags come from: a flag known to
// the parser but missing from run_options() would slip through both.
TEST(ReadmeOptions, EveryDocumentedFlagIsAccepted) {
  for (const auto &option : shimwatch::run_options()) {
    if (!option.value_name.empty())
      continue;
    std::string flag = option.names.substr(option.names.rfind(' ') + 1);
    if (flag == "--no-stdout") // needs an output; given one here
      continue;
    auto parsed = shimwatch::parse_cli({"run", flag});
    EXPECT_TRUE(parsed.ok()) << flag << ": " << parsed.error().message;
  }
}

} // namespace
