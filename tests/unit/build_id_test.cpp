// The ELF build-id reader: what a renamed copy of the docker CLI is known by.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "shimwatch/config.hpp"
#include "shimwatch/probe.hpp"
#include "test_files.hpp"

namespace {

using swtest::TempFile;

// What binutils says the build-id is: the reference the reader must agree with.
std::string readelf_build_id(const std::string &path) {
  std::string command = "readelf -n " + path + " 2>/dev/null";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return "";
  std::string id;
  char line[512];
  while (std::fgets(line, sizeof(line), pipe)) {
    std::string text(line);
    auto at = text.find("Build ID: ");
    if (at != std::string::npos && id.empty())
      id = text.substr(at + 10, text.find_last_not_of("\n ") - at - 9);
  }
  pclose(pipe);
  return id;
}

std::string prefix_of(const std::string &path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string data(bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

} // namespace

TEST(BuildId, AgreesWithReadelfOnASystemBinary) {
  std::string expected = readelf_build_id("/bin/true");
  ASSERT_FALSE(expected.empty()) << "readelf found no build-id in /bin/true";
  auto id = shimwatch::read_build_id(std::string("/bin/true"));
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->value, "gnu:" + expected);
  EXPECT_FALSE(id->go_toolchain);
}

// The docker CLI is a Go binary: its note from the Go linker ("Go\0\0") is
// what tells it from a C stand-in named docker.
TEST(BuildId, GoBinariesAreRecognised) {
  std::string go_binary;
  for (const char *path : {"/usr/bin/docker", "/usr/local/bin/docker", "/usr/bin/containerd"})
    if (::access(path, R_OK) == 0) {
      go_binary = path;
      break;
    }
  ASSERT_FALSE(go_binary.empty()) << "no Go binary of docker.io installed";
  auto id = shimwatch::read_build_id(go_binary);
  ASSERT_TRUE(id.has_value());
  EXPECT_TRUE(id->go_toolchain) << go_binary;
  std::string expected = readelf_build_id(go_binary);
  EXPECT_EQ(id->value, expected.empty() ? id->value : "gnu:" + expected);
}

TEST(BuildId, ScriptsMissingFilesAndTornBinariesHaveNone) {
  TempFile script("#!/bin/sh\necho docker\n");
  EXPECT_FALSE(shimwatch::read_build_id(script.path()).has_value());
  EXPECT_FALSE(shimwatch::read_build_id(std::string("/nonexistent/docker")).has_value());
  EXPECT_FALSE(shimwatch::read_build_id(std::string("/tmp")).has_value());
  // A real binary cut short of its notes: no crash, no id.
  for (size_t bytes : {4, 52, 64, 200}) {
    TempFile torn(prefix_of("/bin/true", bytes));
    EXPECT_FALSE(shimwatch::read_build_id(torn.path()).has_value()) << bytes << " bytes";
  }
  // Only the headers and notes are read: the first pages are enough.
  TempFile head(prefix_of("/bin/true", 4096));
  auto id = shimwatch::read_build_id(head.path());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->value, "gnu:" + readelf_build_id("/bin/true"));
}

TEST(BuildId, EmptyAndGarbageFilesHaveNone) {
  TempFile empty("");
  EXPECT_FALSE(shimwatch::read_build_id(empty.path()).has_value());
  std::string garbage = "\x7f"
                        "ELF";
  garbage += std::string(4096, '\xff');
  TempFile elfish(garbage);
  EXPECT_FALSE(shimwatch::read_build_id(elfish.path()).has_value());
}

// watch.exec_build_id_check and watch.exec_build_ids.
namespace {

using swtest::TempFile;

std::string config_error(const std::string &document) {
  auto applied = shimwatch::apply_config_json(document, shimwatch::default_config());
  if (!applied)
    return applied.error().message;
  auto valid = shimwatch::validate_config(*applied);
  return valid ? "" : valid.error().message;
}

} // namespace

TEST(BuildIdConfig, OnByDefaultWithNoExtraIds) {
  auto config = shimwatch::default_config();
  EXPECT_TRUE(config.watch_exec_build_id_check);
  EXPECT_TRUE(config.watch_exec_build_ids.empty());
  EXPECT_TRUE(shimwatch::probe_options(config).check_new_binaries);
}

TEST(BuildIdConfig, IdsAreKeptInLowerCaseAndTheCheckCanBeTurnedOff) {
  auto applied = shimwatch::apply_config_json(
      R"({"watch": {"exec_build_id_check": false, "exec_build_ids": ["DA1A37C32A771B5E"]}})",
      shimwatch::default_config());
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_FALSE(applied->watch_exec_build_id_check);
  EXPECT_EQ(applied->watch_exec_build_ids, std::vector<std::string>{"da1a37c32a771b5e"});
  EXPECT_FALSE(shimwatch::probe_options(*applied).check_new_binaries);
  EXPECT_TRUE(shimwatch::validate_config(*applied));
}

TEST(BuildIdConfig, BadValuesNameTheKeyAndTheValue) {
  for (const char *bad : {R"("xyz12345")", R"("abc")", R"("abcdef123")", R"("")"}) {
    std::string message =
        config_error(std::string(R"({"watch": {"exec_build_ids": [)") + bad + "]}}");
    EXPECT_NE(message.find("watch.exec_build_ids"), std::string::npos) << bad << ": " << message;
  }
  std::string message = config_error(R"({"watch": {"exec_build_id_check": "yes"}})");
  EXPECT_NE(message.find("watch.exec_build_id_check"), std::string::npos) << message;
  EXPECT_NE(message.find("\"yes\""), std::string::npos) << message;
}

// The node's files as the agent opens them: itself on the node, through
// /proc/1/root from a pod's mount namespace.
TEST(NodePath, RelativeAndEmptyPathsAreLeftAlone) {
  EXPECT_EQ(shimwatch::node_path(""), "");
  EXPECT_EQ(shimwatch::node_path("relative/docker"), "relative/docker");
}

TEST(NodePath, AnAbsolutePathNamesTheSameFileAsOnTheNode) {
  std::string seen = shimwatch::node_path("/bin/true");
  EXPECT_TRUE(seen == "/bin/true" || seen == "/proc/1/root/bin/true") << seen;
  EXPECT_EQ(::access(seen.c_str(), X_OK), 0) << seen;
}
