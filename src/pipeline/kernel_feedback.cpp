#include <spdlog/spdlog.h>

#include "pipeline/identity_labels.hpp"
#include "pipeline/renamed_binaries.hpp"
#include "shimwatch/pipeline.hpp"

namespace shimwatch {

namespace {
// Entries of the kernel's watched_exec_inode map.
constexpr size_t kMaxWatchedBinaries = 256;
} // namespace

KernelFeedback::KernelFeedback(const Config &config, WatchMaps &maps)
    : maps_(maps), sockets_(std::make_unique<SocketIdentities>(watched_socket_paths(config))),
      config_files_(std::make_unique<ConfigIdentities>(config.watch_config_paths)),
      renamed_(std::make_unique<RenamedBinaries>(config.watch_exec_build_ids, config.watch_exec)),
      exec_paths_(watched_exec_paths(config)) {}

KernelFeedback::~KernelFeedback() = default;

Status KernelFeedback::load() {
  sockets_->refresh();
  if (auto st = maps_.set_watched_sockets(sockets_->identities()); !st)
    return st;
  refresh_executables();
  config_files_->refresh();
  return config_files_->load(maps_);
}

void KernelFeedback::refresh() {
  refresh_executables(); // upgrades replace the binaries
  refresh_config();
  if (sockets_->refresh())
    if (auto st = maps_.set_watched_sockets(sockets_->identities()); !st) {
      spdlog::warn("{}", st.error().message);
      sockets_->forget();
    }
}

void KernelFeedback::refresh_executables() {
  auto fresh = resolve_executable_identities(exec_paths_);
  if (fresh == executables_ && renamed_->found().size() == renamed_loaded_)
    return;
  executables_ = std::move(fresh);
  renamed_->set_watched_binaries(executables_);
  std::vector<FileIdentity> ids;
  for (const auto &[id, path] : executables_)
    ids.push_back(id);
  // Renamed copies found so far: the kernel matches them without a check.
  for (const auto &id : renamed_->found())
    if (ids.size() < kMaxWatchedBinaries)
      ids.push_back(id);
  if (auto st = maps_.set_watched_executables(ids); !st) {
    spdlog::warn("{}", st.error().message);
    executables_.clear(); // tried again at the next look
    return;
  }
  renamed_loaded_ = renamed_->found().size();
}

void KernelFeedback::refresh_config() {
  if (config_files_->refresh())
    if (auto st = config_files_->load(maps_); !st) {
      spdlog::warn("{}", st.error().message);
      config_files_->forget();
    }
}

bool KernelFeedback::label(Event &event) {
  sockets_->label(event);
  // A rename replaced a file, maybe a watched one: its old identity must go
  // before a new file reuses the inode number.
  if (event.config_renamed)
    refresh_config();
  return config_files_->label(event);
}

void KernelFeedback::check_again(const Event &event) {
  if (renamed_->retry(event))
    maps_.forget_binary(FileIdentity{event.exe_dev, event.exe_ino}, event.exe_size);
}

} // namespace shimwatch
