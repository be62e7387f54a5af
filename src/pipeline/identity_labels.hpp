// What the kernel matched by identity, named as the config names it: a
// connect that reached a watched socket under another path, an open or a
// rename in Docker's configuration. The tables follow the files, which come
// and go (refresh), and are what the kernel's identity maps are loaded from.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "shimwatch/event.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

// The watched sockets' files, by identity: a connect that reached one under
// another path is labelled with the configured path it stands for. Sockets
// come and go with their servers, so the table is refreshed.
class SocketIdentities {
public:
  explicit SocketIdentities(std::vector<std::string> paths) : paths_(std::move(paths)) {}

  // True when the set changed.
  bool refresh() {
    auto resolved = resolve_socket_identities(paths_);
    std::map<SocketIdentity, std::string> fresh(resolved.begin(), resolved.end());
    if (fresh == by_identity_)
      return false;
    by_identity_ = std::move(fresh);
    return true;
  }

  void forget() { by_identity_.clear(); }

  std::vector<SocketIdentity> identities() const {
    std::vector<SocketIdentity> out;
    for (const auto &[id, path] : by_identity_)
      out.push_back(id);
    return out;
  }

  void label(Event &event) const {
    if (!is_connect(event.action))
      return;
    if (!event.socket_matched_by_peer) {
      event.socket_watched = event.socket_path;
      return;
    }
    auto it = by_identity_.find({event.socket_peer_dev, event.socket_peer_ino});
    // Replaced since the kernel matched it: its bound name is the best guess.
    event.socket_watched = it != by_identity_.end() ? it->second : event.socket_peer;
  }

private:
  std::vector<std::string> paths_;
  std::map<SocketIdentity, std::string> by_identity_;
};

// Docker's configuration by identity: what the kernel matched names the
// configured file or directory; the path below it comes from the kernel.
class ConfigIdentities {
public:
  explicit ConfigIdentities(std::vector<std::string> paths) : paths_(std::move(paths)) {
    for (const auto &path : paths_)
      normal_paths_.push_back(std::filesystem::path(path).lexically_normal().string());
  }

  // True when the set changed.
  bool refresh() {
    auto fresh = resolve_config_identities(paths_);
    // The parent directory of every watched path that is not a directory
    // (a file, or not there yet): a rename in it may create the path.
    std::vector<std::string> parent_paths;
    for (const auto &path : paths_) {
      bool directory = false;
      for (const auto &[id, resolved, is_dir] : fresh)
        directory = directory || (resolved == path && is_dir);
      if (!directory)
        parent_paths.push_back(std::filesystem::path(path).parent_path().string());
    }
    auto parents = resolve_config_identities(parent_paths);
    if (fresh == resolved_ && parents == parents_)
      return false;
    resolved_ = std::move(fresh);
    parents_ = std::move(parents);
    return true;
  }

  void forget() {
    resolved_.clear();
    parents_.clear();
  }

  Status load(WatchMaps &maps) const {
    std::vector<FileIdentity> files, directories, parents;
    for (const auto &[id, path, directory] : resolved_)
      (directory ? directories : files).push_back(id);
    for (const auto &[id, path, directory] : parents_)
      if (directory)
        parents.push_back(id);
    return maps.set_watched_config(files, directories, parents);
  }

  // Names the file. False for a rename whose destination is not watched
  // configuration after all (the kernel matched a directory or a prefix):
  // not an event.
  bool label(Event &event) const {
    if (!is_config_open(event.action))
      return true;
    const FileIdentity matched{event.config_matched_dev, event.config_matched_ino};
    std::string base;
    if (!event.config_absolute) {
      for (const auto *list : {&resolved_, &parents_})
        for (const auto &[id, path, directory] : *list)
          if (base.empty() && id == matched)
            base = path;
      // Replaced since the kernel matched it: the path below it is all there is.
      if (base.empty() && event.config_renamed)
        return false;
      std::string shown = base.empty() ? "..." : base;
      event.config_path = event.config_relative_path.empty()
                              ? shown
                              : (shown == "/" ? "" : shown) + "/" + event.config_relative_path;
    }
    if (event.config_renamed) // as the caller named it: "./x", "a//b"
      event.config_path = std::filesystem::path(event.config_path).lexically_normal().string();
    event.config_watched = watched_path_of(event.config_path);
    if (event.config_renamed)
      return !event.config_watched.empty();
    if (event.config_watched.empty())
      event.config_watched = base;
    return true;
  }

private:
  // The configured path that path is, or lies under, compared as normalised
  // strings; "" when none.
  std::string watched_path_of(const std::string &path) const {
    const std::string normal = std::filesystem::path(path).lexically_normal().string();
    for (size_t i = 0; i < paths_.size(); ++i) {
      const std::string &watched = normal_paths_[i];
      if (normal == watched ||
          (normal.size() > watched.size() && normal.compare(0, watched.size(), watched) == 0 &&
           (watched.back() == '/' || normal[watched.size()] == '/')))
        return paths_[i];
    }
    return "";
  }

  std::vector<std::string> paths_;
  std::vector<std::string> normal_paths_;
  std::vector<std::tuple<FileIdentity, std::string, bool>> resolved_;
  std::vector<std::tuple<FileIdentity, std::string, bool>> parents_;
};

} // namespace shimwatch
