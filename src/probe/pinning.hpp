// Pinned probe state under bpffs: what lets a restarted agent take over the
// ring buffer, the filters and the calls in flight of the one before it.
#pragma once

#include <bpf/libbpf.h>
#include <chrono>
#include <string>
#include <vector>

#include "shimwatch/fd.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch::pinning {

// What a start finds under the pin directory.
struct Previous {
  bool found = false;      // pinned maps exist
  bool compatible = false; // and this agent can reuse them
  std::string why_not;     // when found and not compatible
  uint32_t generation = 0; // the generation that records now
};

// Makes sure a BPF filesystem is mounted on dir's parent: when the parent is
// /sys/fs/bpf, empty and not mounted (a node where nothing mounted it yet),
// mounts one there and says so. Anything else is an error that says what
// to do.
Status ensure_bpffs(const std::string &dir);

// Creates dir (on a bpffs) if needed and takes an exclusive lock on it for
// this agent's life: two agents reading one ring buffer would each lose what
// the other consumed. A holder (a predecessor still draining) is waited for
// up to wait. Returns the descriptor that holds the lock.
Result<Fd> lock(const std::string &dir, std::chrono::milliseconds wait);

// Compares what is pinned under dir with the object's maps (sizes set, not
// loaded yet): the same ABI version and every map of the same type and sizes.
Result<Previous> inspect(const std::string &dir, bpf_object *object);

// Points the object's shared maps at their pin paths (libbpf reuses what is
// there, or creates and pins them at load). A pinned state that cannot be
// reused is unpinned first: its programs go on with their own maps until
// their links are closed.
Status prepare(const std::string &dir, bpf_object *object, const Previous &previous);

// The pinned links of the agent before, unpinned and held open (path and
// descriptor): they stay attached until the descriptors are closed.
std::vector<std::pair<std::string, Fd>> take_links(const std::string &dir);

// Pins the links under dir/links and lets go of them, so that neither this
// process' exit nor its clean-up detaches them.
Status pin_links(const std::string &dir,
                 const std::vector<std::pair<std::string, bpf_link *>> &links);

// Makes generation the one that records (a single map write).
Status activate(bpf_object *object, uint32_t generation);

// What `shimwatch cleanup` removes: the pinned links (the programs detach)
// and maps, then the directory. Lists what it removed.
Result<std::vector<std::string>> remove_all(const std::string &dir);

// The pinned state's generation and link count, for `shimwatch check`.
struct Summary {
  bool present = false;
  bool in_use = false; // an agent holds the lock on it
  uint32_t generation = 0;
  uint32_t abi = 0;
  size_t links = 0;
};
Summary summarize(const std::string &dir);

} // namespace shimwatch::pinning
