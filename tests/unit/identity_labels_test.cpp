// Identity labels: what the kernel matched by file identity, named as the
// config names it (a socket reached under another path, a file in Docker's
// configuration), from real files in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "accepting_listener.hpp"
#include "pipeline/identity_labels.hpp"
#include "test_files.hpp"

using shimwatch::Action;
using shimwatch::ConfigIdentities;
using shimwatch::Event;
using shimwatch::SocketIdentities;

namespace {

struct stat stat_of(const std::string &path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st;
}

Event connect_event(const std::string &passed_path) {
  Event e;
  e.action = Action::docker_socket_connect;
  e.socket_path = passed_path;
  return e;
}

} // namespace

TEST(SocketIdentities, ThePassedPathOrTheConfiguredPathTheReachedSocketStandsFor) {
  swtest::TempDir tree;
  const std::string watched = tree.file("docker.sock");
  swtest::AcceptingListener listener(watched);
  SocketIdentities sockets({watched});
  ASSERT_TRUE(sockets.refresh());
  EXPECT_FALSE(sockets.refresh()) << "nothing changed";
  ASSERT_EQ(sockets.identities().size(), 1u);

  // Matched by the path the caller passed: that path.
  Event by_path = connect_event(watched);
  sockets.label(by_path);
  EXPECT_EQ(by_path.socket_watched, watched);

  // Matched by the socket it reached under another path: the configured one.
  const struct stat st = stat_of(watched);
  Event by_peer = connect_event("/host/run/d.sock");
  by_peer.socket_matched_by_peer = true;
  by_peer.socket_peer = watched;
  by_peer.socket_peer_dev = st.st_dev;
  by_peer.socket_peer_ino = st.st_ino;
  sockets.label(by_peer);
  EXPECT_EQ(by_peer.socket_watched, watched);

  // A socket replaced since the kernel matched it: its bound name.
  Event replaced = by_peer;
  replaced.socket_peer_ino = st.st_ino + 1;
  replaced.socket_peer = "/run/old.sock";
  sockets.label(replaced);
  EXPECT_EQ(replaced.socket_watched, "/run/old.sock");

  // Not a connect: left alone.
  Event exec;
  exec.action = Action::docker_cli_exec;
  sockets.label(exec);
  EXPECT_EQ(exec.socket_watched, "");
}

TEST(ConfigIdentities, AFileBelowAWatchedDirectoryIsNamedFromTheDirectory) {
  swtest::TempDir tree;
  const std::string etc = tree.file("etc-docker");
  std::filesystem::create_directory(etc);
  std::ofstream(etc + "/daemon.json") << "{}";
  ConfigIdentities config({etc});
  ASSERT_TRUE(config.refresh());

  const struct stat st = stat_of(etc);
  Event read;
  read.action = Action::docker_config_read;
  read.config_matched_dev = st.st_dev;
  read.config_matched_ino = st.st_ino;
  read.config_relative_path = "daemon.json";
  EXPECT_TRUE(config.label(read));
  EXPECT_EQ(read.config_path, etc + "/daemon.json");
  EXPECT_EQ(read.config_watched, etc);

  // An entry the table no longer knows: the path below it is all there is.
  Event unknown = read;
  unknown.config_matched_ino = st.st_ino + 1;
  unknown.config_path.clear();
  unknown.config_watched.clear();
  EXPECT_TRUE(config.label(unknown));
  EXPECT_EQ(unknown.config_path, ".../daemon.json");
}

TEST(ConfigIdentities, ARenameCountsOnlyWhenItsDestinationIsWatched) {
  swtest::TempDir tree;
  const std::string etc = tree.file("etc-docker");
  std::filesystem::create_directory(etc);
  const std::string daemon = etc + "/daemon.json";
  ConfigIdentities config({daemon}); // a file not there yet: its directory is watched for renames
  ASSERT_TRUE(config.refresh());

  Event into;
  into.action = Action::docker_config_write;
  into.config_renamed = true;
  into.config_absolute = true;
  into.config_path = etc + "/./daemon.json"; // as the caller spelled it
  EXPECT_TRUE(config.label(into));
  EXPECT_EQ(into.config_path, daemon);
  EXPECT_EQ(into.config_watched, daemon);

  // Beside it in the same directory: the kernel matched the directory, but
  // no watched path is written.
  Event beside = into;
  beside.config_path = etc + "/daemon.json.bak";
  beside.config_watched.clear();
  EXPECT_FALSE(config.label(beside));
}
