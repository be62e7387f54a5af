// A renamed copy of the docker CLI: recognised by its ELF build-id, checked
// once for each binary the kernel has not seen run before.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/binary_checker.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/probe.hpp"

namespace shimwatch {

class RenamedBinaries {
public:
  // configured: extra build-ids (hex, as `file` prints them), e.g. of the
  // CLI inside an image; names: the watched basenames (docker, ...).
  RenamedBinaries(const std::vector<std::string> &configured,
                  const std::vector<std::string> &names);

  // The watched binaries found on the node: their build-ids are the ones a
  // copy is recognised by. Each file is read once per identity.
  void set_watched_binaries(const std::vector<std::pair<FileIdentity, std::string>> &binaries);

  // The build-id of the binary the event's process runs, read through
  // /proc/<pid>/exe (or its path in the node's or the agent's mount
  // namespace), checked against the identity the kernel reported. Blocking
  // I/O on a file a workload controls: for BinaryChecker's workers. Never
  // maps the file (one cut short under a mapping would raise SIGBUS).
  BinaryChecker::Read read(const Event &event) const;

  // An exec matched by name (a container's own docker CLI): whether its
  // build-id should be read and learned (once per file, when it has a
  // watched name).
  bool wants_to_learn(const Event &event);
  // ... and with what was read: when it is a Go binary, its build-id joins
  // the known ones, so that a renamed copy of it is caught too.
  void learn(const Event &event, const BinaryChecker::Read &read);

  enum class Verdict { docker, other, unreadable };
  // Whether the first exec of a binary nothing else matched could be a
  // renamed docker binary at all (false when no build-id is known).
  bool worth_checking() const { return !known_.empty(); }
  // ... and with what was read: marks the event as matched by build-id when
  // it is a known docker binary.
  Verdict check(Event &event, const BinaryChecker::Read &read);

  // Whether a binary that could not be read should be sent again at its next
  // exec (a few tries, then it is left alone).
  bool retry(const Event &event);

  // Identities found to be docker binaries: the kernel matches them directly
  // from now on.
  const std::set<FileIdentity> &found() const { return found_; }
  size_t known_build_ids() const { return known_.size(); }

private:
  std::set<std::string> learn_names_;
  std::set<std::string> known_;
  std::map<FileIdentity, std::string> watched_; // identity -> build-id read
  std::set<FileIdentity> learned_from_;
  std::set<FileIdentity> found_;
  std::map<FileIdentity, int> tries_;
  uint32_t own_mnt_ns_ = 0;
  uint32_t host_mnt_ns_ = 0;
};

} // namespace shimwatch
