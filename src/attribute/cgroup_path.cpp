// attribute/cgroup_path: who owns a cgroup, from its path alone.
//
// How it works
// ------------
// The path is split into levels and each level is classified by its own name
// ("docker-<id>.scope", "kubepods-burstable-pod<uid>.slice", "session-3.scope",
// "cron.service", ...). The only levels whose meaning depends on their parents
// are kubelet's cgroupfs pod directories ("/kubepods/burstable/pod<uid>") and
// bare container ids ("/docker/<id>"). Then, following DESIGN.md's order of
// precision (pod > container > unit > session > host):
//   1. the innermost pod level decides: type pod; its container is the
//      container level directly below it (or in the same level, see the
//      "slice:prefix:id" form below);
//   2. else the innermost container level: type container;
//   3. else the innermost systemd unit or login session scope;
//   4. else host.
// Levels inside the deciding one ("/init", "/container", a service's
// sub-cgroup) are ignored. `slice` and `session_uid` are filled for every type
// from the innermost slice / user-<uid>.slice / user@<uid>.service at or above
// the deciding level (for the host: anywhere in the path).
//
// Decisions on ambiguous layouts
// ------------------------------
// - Pod uids come back as the API server spells them. kubelet's systemd driver
//   writes '-' as '_' ("pod1234abcd_..."), we turn them back into dashes.
//   Static pods have a 32-hex md5 uid without dashes (kubelet
//   config.applyDefaults); it is returned as is. Their mirror pod in the API
//   server has another uid and carries this one in the annotation
//   "kubernetes.io/config.mirror".
// - qos_class is set only with a pod uid. It is empty when a truncated path
//   has lost the QoS level (".../pod<uid>/<id>" with the cgroupfs driver).
// - A process in the pod cgroup itself (pause on some runtimes, anything moved
//   there) is type pod with an empty container_id.
// - conmon ("crio-conmon-<id>.scope", "libpod-conmon-<id>.scope") is not the
//   container. Directly below a pod it is the pod (container_id empty,
//   container_runtime still set from the prefix); outside a pod (podman,
//   CRI-O with conmon_cgroup="system.slice") it is the container it watches,
//   with that container's id, because no other owner is closer.
// - Container in container: with no pod, the innermost container wins
//   ("/docker/<a>/docker/<b>" is b). Inside a pod, the pod's own container
//   (the level below the pod) is reported, so that it matches the pod status:
//   Docker-in-Docker in a CI pod is attributed to the dind container of that
//   pod. A pod inside a container (kind/k3d nodes) is a pod: pods win.
// - A unit or session inside a container or pod ("/docker/<id>/system.slice/
//   cron.service", quadlet's ".../foo.service/libpod-payload-<id>") belongs to
//   the container; a container inside a unit belongs to the container too.
// - containerd's "kubepods-...-pod<uid>.slice:cri-containerd:<id>" level is
//   real: runc's cgroupfs driver uses a systemd-style cgroupsPath literally,
//   below containerd.service, when kubelet uses the systemd driver and
//   containerd does not (SystemdCgroup=false). It gives pod and container;
//   `slice` stays the real innermost slice ("system.slice").
// - A bare 64-hex level is a container: runtime "docker" under "docker",
//   "containerd" under containerd's namespace levels "default" and "k8s.io",
//   empty elsewhere (docker --cgroup-parent, ECS, kubelet's cgroupfs driver).
// - A runtime-prefixed level whose id is malformed ("docker-.scope",
//   "cri-containerd-<63 hex>.scope") is neither a container nor a unit: it is
//   skipped and the outer levels decide (pod, slice or host). A prefixed name
//   that is not an id attempt ("docker-cleanup.scope") is an ordinary unit.
// - User manager: "user@1000.service" is a unit; its own process lives in
//   "user@1000.service/init.scope", reported as unit "init.scope" with
//   session_uid 1000 (the uid tells it apart from PID 1's "/init.scope").
//   User units ("user@1000.service/app.slice/foo.service") are units with
//   session_uid 1000; session_uid is the slice owner for every type.
// - Unit names are kept as systemd spells them, escapes included
//   ("systemd-fsck@dev-disk-by\x2duuid-1234.service"). Names with characters
//   systemd never writes (spaces, control characters) are not units.
// - Host: "/", "", "/kubepods", "/kubepods/burstable", "/system.slice", ...
//   with `slice` set when the path names one ("-.slice" is never in a path).
// - A whole /proc/<pid>/cgroup line ("0::/...", "4:memory:/...") is accepted:
//   the "hierarchy:controllers:" prefix is dropped.
#include "shimwatch/attribute.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <vector>

namespace shimwatch {

namespace {

using std::string_view;

constexpr string_view kTruncationMarker = "...";
constexpr string_view kKubepods = "kubepods";
constexpr string_view kGuaranteed = "guaranteed";
constexpr std::array<string_view, 2> kQosLevels = {"burstable", "besteffort"};

// ---------------------------------------------------------------- lexical

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_lower_hex(string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// docker, containerd and CRI-O all use 64 lowercase hex (sha256) ids.
bool is_container_id(string_view s) {
  return s.size() == 64 && is_lower_hex(s);
}

// Something that tried to be an id: empty or hex only (any length or case).
bool looks_like_id_attempt(string_view s) {
  for (char c : s) {
    if (!is_hex_digit(c)) {
      return false;
    }
  }
  return true;
}

bool is_qos_level(string_view s) {
  for (string_view q : kQosLevels) {
    if (s == q) {
      return true;
    }
  }
  return false;
}

// systemd's unit name alphabet (unit_name_is_valid): no spaces, no control
// characters; escapes are spelled "\xNN". At most 255 bytes.
bool is_unit_name(string_view s) {
  if (s.empty() || s.size() > 255) {
    return false;
  }
  for (char c : s) {
    if (!(is_alnum(c) || c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@')) {
      return false;
    }
  }
  return true;
}

// Unit types that own a cgroup (slices are handled apart: they are containers
// of units, never the answer to "which unit").
bool has_unit_suffix(string_view s) {
  constexpr std::array<string_view, 5> kSuffixes = {".service", ".scope", ".socket", ".mount",
                                                    ".swap"};
  for (string_view suffix : kSuffixes) {
    if (s.size() > suffix.size() && s.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

bool is_slice_name(string_view s) {
  return s.size() > 6 && s.ends_with(".slice") && is_unit_name(s);
}

// A login uid as systemd prints it in user-<uid>.slice / user@<uid>.service.
// (uid_t)-1 is never a user.
std::optional<uint32_t> parse_uid(string_view digits) {
  if (digits.empty() || digits.size() > 10) {
    return std::nullopt;
  }
  uint32_t uid = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), uid);
  if (ec != std::errc{} || end != digits.data() + digits.size() ||
      uid == std::numeric_limits<uint32_t>::max()) {
    return std::nullopt;
  }
  return uid;
}

// kubelet names a pod cgroup "pod" + pod.UID. API pods have an RFC 4122 uid
// (8-4-4-4-12 lowercase hex); the systemd driver writes its dashes as '_'
// (separator). Static pods have a 32-hex md5 without dashes.
std::optional<std::string> normalize_pod_uid(string_view raw, char separator) {
  if (raw.size() == 32 && is_lower_hex(raw)) {
    return std::string(raw);
  }
  if (raw.size() != 36) {
    return std::nullopt;
  }
  std::string uid(raw);
  for (size_t i = 0; i < uid.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (uid[i] != separator) {
        return std::nullopt;
      }
      uid[i] = '-';
    } else if (!is_lower_hex(string_view(&uid[i], 1))) {
      return std::nullopt;
    }
  }
  return uid;
}

// ---------------------------------------------------------------- levels

struct PodRef {
  std::string uid;
  string_view qos; // empty when a truncated path lost the QoS level
};

struct ContainerRef {
  string_view id;
  string_view runtime; // empty when the layout does not say
  bool conmon = false; // the runtime's monitor process, not the container
};

// What one level says on its own (plus parents, for cgroupfs pod directories
// and bare ids).
struct Level {
  std::optional<PodRef> pod;
  std::optional<ContainerRef> container;
  string_view session;               // login session id of session-<id>.scope
  string_view unit;                  // a systemd unit owning a cgroup
  string_view slice;                 // a systemd slice
  std::optional<uint32_t> owner_uid; // user-<uid>.slice, user@<uid>.service
};

struct SplitPath {
  bool truncated = false; // the probe dropped the outer levels
  std::vector<string_view> names;
};

// "0::/a/b" or "4:memory:/a/b" (a /proc/<pid>/cgroup line) -> "/a/b".
string_view strip_proc_cgroup_prefix(string_view path) {
  size_t i = 0;
  while (i < path.size() && path[i] >= '0' && path[i] <= '9') {
    ++i;
  }
  if (i == 0 || i >= path.size() || path[i] != ':') {
    return path;
  }
  size_t second = path.find(':', i + 1);
  if (second == string_view::npos ||
      path.substr(i + 1, second - i - 1).find('/') != string_view::npos) {
    return path;
  }
  return path.substr(second + 1);
}

// Levels in order, outermost first. Empty names (double or trailing slashes)
// are dropped; a leading "..." marks a truncated path.
SplitPath split_levels(string_view path) {
  SplitPath split;
  path = strip_proc_cgroup_prefix(path);
  if (path.starts_with(kTruncationMarker) &&
      (path.size() == kTruncationMarker.size() || path[kTruncationMarker.size()] == '/')) {
    split.truncated = true;
    path.remove_prefix(kTruncationMarker.size());
  }
  while (!path.empty()) {
    size_t slash = path.find('/');
    string_view name = path.substr(0, slash);
    if (!name.empty()) {
      split.names.push_back(name);
    }
    if (slash == string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return split;
}

struct RuntimePrefix {
  string_view prefix; // as in "<prefix>-<id>.scope" and "slice:<prefix>:<id>"
  string_view runtime;
  bool conmon;
};

// Scope (systemd driver) or directory (CRI-O / podman cgroupfs) name prefixes.
constexpr std::array<RuntimePrefix, 8> kRuntimePrefixes = {{
    {"cri-containerd", "containerd", false}, // containerd CRI, systemd driver
    {"crio-conmon", "cri-o", true},          // CRI-O's conmon, conmon_cgroup="pod"
    {"crio", "cri-o", false},                // CRI-O, both drivers
    {"docker", "docker", false},             // dockerd / dockershim, systemd driver
    {"libpod-conmon", "podman", true},       // podman's conmon
    {"libpod-payload", "podman", false},     // podman --cgroups=split (quadlet)
    {"libpod", "podman", false},             // podman
    {"nerdctl", "containerd", false},        // nerdctl, systemd driver
}};

enum class Match { no, yes, malformed };

struct ContainerMatch {
  Match match = Match::no;
  ContainerRef ref;
};

const RuntimePrefix *find_prefix(string_view prefix) {
  for (const RuntimePrefix &p : kRuntimePrefixes) {
    if (p.prefix == prefix) {
      return &p;
    }
  }
  return nullptr;
}

ContainerMatch container_from_id(const RuntimePrefix &prefix, string_view id) {
  if (is_container_id(id)) {
    return {Match::yes, ContainerRef{id, prefix.runtime, prefix.conmon}};
  }
  return {looks_like_id_attempt(id) ? Match::malformed : Match::no, {}};
}

// "<prefix>-<id>.scope" (systemd driver) or "<prefix>-<id>" (cgroupfs).
ContainerMatch container_from_runtime_name(string_view name) {
  string_view stem = name;
  if (stem.ends_with(".scope")) {
    stem.remove_suffix(6);
  } else if (stem.find('.') != string_view::npos) {
    return {}; // another unit type ("docker-foo.service")
  }
  // The most specific prefix first: "crio-conmon-<id>" also starts "crio-".
  for (const RuntimePrefix &p : kRuntimePrefixes) {
    if (stem.size() > p.prefix.size() && stem.starts_with(p.prefix) &&
        stem[p.prefix.size()] == '-') {
      ContainerMatch m = container_from_id(p, stem.substr(p.prefix.size() + 1));
      if (m.match != Match::no) {
        return m;
      }
    }
  }
  return {};
}

// kubelet's systemd driver: "[<root>-]kubepods[-<qos>]-pod<uid>.slice". Slice
// names spell their whole ancestry, so this needs no parent level; kubelet
// writes '-' as '_' inside each part, so '-' only separates parts.
std::optional<PodRef> pod_from_slice(string_view name) {
  if (!is_slice_name(name)) {
    return std::nullopt;
  }
  string_view stem = name.substr(0, name.size() - 6);
  size_t dash = stem.rfind('-');
  if (dash == string_view::npos) {
    return std::nullopt;
  }
  string_view pod_part = stem.substr(dash + 1);
  if (!pod_part.starts_with("pod")) {
    return std::nullopt;
  }
  std::optional<std::string> uid = normalize_pod_uid(pod_part.substr(3), '_');
  if (!uid) {
    return std::nullopt;
  }
  stem = stem.substr(0, dash); // "...kubepods" or "...kubepods-<qos>"
  size_t qos_dash = stem.rfind('-');
  string_view last = qos_dash == string_view::npos ? stem : stem.substr(qos_dash + 1);
  if (last == kKubepods) {
    return PodRef{std::move(*uid), kGuaranteed};
  }
  if (!is_qos_level(last) || qos_dash == string_view::npos) {
    return std::nullopt;
  }
  stem = stem.substr(0, qos_dash);
  size_t root_dash = stem.rfind('-');
  string_view before = root_dash == string_view::npos ? stem : stem.substr(root_dash + 1);
  if (before != kKubepods) {
    return std::nullopt;
  }
  return PodRef{std::move(*uid), last};
}

// Name of level i's parent; "..." above the first level of a truncated path,
// nothing above the root.
std::optional<string_view> parent_name(const SplitPath &split, size_t i) {
  if (i > 0) {
    return split.names[i - 1];
  }
  if (split.truncated) {
    return kTruncationMarker;
  }
  return std::nullopt;
}

// kubelet's cgroupfs driver: ".../kubepods[/<qos>]/pod<uid>". The directory
// name alone is too generic, so the parents must be kubelet's (or lost to
// truncation, then the QoS class is unknown).
std::optional<PodRef> pod_from_directory(const SplitPath &split, size_t i) {
  string_view name = split.names[i];
  if (!name.starts_with("pod")) {
    return std::nullopt;
  }
  std::optional<std::string> uid = normalize_pod_uid(name.substr(3), '-');
  if (!uid) {
    return std::nullopt;
  }
  std::optional<string_view> parent = parent_name(split, i);
  if (!parent) {
    return std::nullopt;
  }
  if (*parent == kKubepods) {
    return PodRef{std::move(*uid), kGuaranteed};
  }
  if (*parent == kTruncationMarker) {
    return PodRef{std::move(*uid), {}};
  }
  std::optional<string_view> grandparent = parent_name(split, i - 1);
  if (is_qos_level(*parent) && grandparent &&
      (*grandparent == kKubepods || *grandparent == kTruncationMarker)) {
    return PodRef{std::move(*uid), *parent};
  }
  return std::nullopt;
}

// A level named by the id alone: the runtime is whatever its parent says.
std::optional<ContainerRef> container_from_bare_id(const SplitPath &split, size_t i) {
  string_view id = split.names[i];
  if (!is_container_id(id)) {
    return std::nullopt;
  }
  std::optional<string_view> parent = parent_name(split, i);
  string_view runtime;
  if (parent == "docker") {
    runtime = "docker"; // dockerd, cgroupfs driver
  } else if (parent == "default" || parent == "k8s.io") {
    runtime = "containerd"; // containerd's default "/<namespace>/<id>"
  }
  return ContainerRef{id, runtime, false};
}

// containerd's runc systemd cgroupsPath "<slice>:<prefix>:<id>", used as a
// literal directory name by runc's cgroupfs driver.
void classify_colon_form(string_view name, Level &level) {
  size_t first = name.find(':');
  size_t second = first == string_view::npos ? first : name.find(':', first + 1);
  if (second == string_view::npos || name.find(':', second + 1) != string_view::npos) {
    return;
  }
  string_view slice = name.substr(0, first);
  const RuntimePrefix *prefix = find_prefix(name.substr(first + 1, second - first - 1));
  if (!is_slice_name(slice) || prefix == nullptr) {
    return;
  }
  level.pod = pod_from_slice(slice);
  ContainerMatch m = container_from_id(*prefix, name.substr(second + 1));
  if (m.match == Match::yes) {
    level.container = m.ref;
  }
}

// "session-<id>.scope", logind's ids being alphanumeric ("3", "c1").
string_view session_from_scope(string_view name) {
  if (!name.starts_with("session-") || !name.ends_with(".scope")) {
    return {};
  }
  string_view id = name.substr(8, name.size() - 8 - 6);
  if (id.empty()) {
    return {};
  }
  for (char c : id) {
    if (!is_alnum(c)) {
      return {};
    }
  }
  return id;
}

// "user-<uid>.slice" (logind's per-user slice) or "user@<uid>.service" (the
// user's systemd manager).
std::optional<uint32_t> owner_uid_of(string_view name) {
  if (name.starts_with("user-") && name.ends_with(".slice")) {
    return parse_uid(name.substr(5, name.size() - 5 - 6));
  }
  if (name.starts_with("user@") && name.ends_with(".service")) {
    return parse_uid(name.substr(5, name.size() - 5 - 8));
  }
  return std::nullopt;
}

Level classify_level(const SplitPath &split, size_t i) {
  string_view name = split.names[i];
  Level level;
  if (name.find(':') != string_view::npos) {
    classify_colon_form(name, level);
    return level;
  }
  if (is_slice_name(name)) {
    level.slice = name;
    level.pod = pod_from_slice(name);
    level.owner_uid = owner_uid_of(name);
    return level;
  }
  ContainerMatch runtime = container_from_runtime_name(name);
  if (runtime.match == Match::yes) {
    level.container = runtime.ref;
    return level;
  }
  if (runtime.match == Match::malformed) {
    return level; // made by a runtime, but we cannot tell which container
  }
  if (std::optional<ContainerRef> bare = container_from_bare_id(split, i)) {
    level.container = bare;
    return level;
  }
  level.pod = pod_from_directory(split, i);
  if (level.pod) {
    return level;
  }
  level.session = session_from_scope(name);
  if (level.session.empty() && is_unit_name(name) && has_unit_suffix(name)) {
    level.unit = name;
    level.owner_uid = owner_uid_of(name);
  }
  return level;
}

// ---------------------------------------------------------------- resolve

template <class Pred> std::optional<size_t> innermost(const std::vector<Level> &levels, Pred pred) {
  for (size_t i = levels.size(); i-- > 0;) {
    if (pred(levels[i])) {
      return i;
    }
  }
  return std::nullopt;
}

void fill_pod(const std::vector<Level> &levels, size_t at, CgroupOrigin &origin) {
  const PodRef &pod = *levels[at].pod;
  origin.type = OriginType::pod;
  origin.pod_uid = pod.uid;
  origin.qos_class = pod.qos;
  // The pod's container is named in the same level ("<slice>:<prefix>:<id>")
  // or is the level directly below the pod; deeper levels are inside it.
  std::optional<ContainerRef> container = levels[at].container;
  if (!container && at + 1 < levels.size()) {
    container = levels[at + 1].container;
  }
  if (container) {
    origin.container_runtime = container->runtime;
    if (!container->conmon) {
      origin.container_id = container->id;
    }
  }
}

void fill_container(const ContainerRef &container, CgroupOrigin &origin) {
  origin.type = OriginType::container;
  origin.container_id = container.id;
  origin.container_runtime = container.runtime;
}

// slice and session_uid: the innermost ones at or above the deciding level.
void fill_context(const std::vector<Level> &levels, size_t at, CgroupOrigin &origin) {
  for (size_t i = at + 1; i-- > 0;) {
    if (origin.slice.empty() && !levels[i].slice.empty()) {
      origin.slice = levels[i].slice;
    }
    if (!origin.session_uid && levels[i].owner_uid) {
      origin.session_uid = levels[i].owner_uid;
    }
  }
}

} // namespace

CgroupOrigin parse_cgroup_path(std::string_view path) {
  SplitPath split = split_levels(path);
  std::vector<Level> levels;
  levels.reserve(split.names.size());
  for (size_t i = 0; i < split.names.size(); ++i) {
    levels.push_back(classify_level(split, i));
  }

  CgroupOrigin origin;
  if (levels.empty()) {
    return origin;
  }
  // A pod level is believed only where a kubelet puts pods: not below a
  // user manager (its subtree is delegated to the user, who may make any
  // cgroup there) nor inside another pod (a container given a writable
  // cgroupfs). The first one that fails, and what lies below it, is named
  // as unverified; what encloses it decides.
  for (size_t i = 0; i < levels.size(); ++i) {
    if (!levels[i].pod)
      continue;
    bool believed = true;
    for (size_t above = 0; above < i; ++above)
      believed = believed && !levels[above].pod && !levels[above].unit.starts_with("user@");
    if (!believed) {
      origin.unverified_pod_uid = levels[i].pod->uid;
      for (size_t below = i; below < levels.size(); ++below) {
        levels[below].pod.reset();
        levels[below].container.reset();
      }
      break;
    }
  }
  size_t at = levels.size() - 1;
  if (auto pod = innermost(levels, [](const Level &l) { return l.pod.has_value(); })) {
    at = *pod;
    fill_pod(levels, at, origin);
  } else if (auto c = innermost(levels, [](const Level &l) { return l.container.has_value(); })) {
    at = *c;
    fill_container(*levels[at].container, origin);
  } else if (auto u = innermost(
                 levels, [](const Level &l) { return !l.unit.empty() || !l.session.empty(); })) {
    at = *u;
    if (!levels[at].session.empty()) {
      origin.type = OriginType::user_session;
      origin.session = levels[at].session;
    } else {
      origin.type = OriginType::systemd_unit;
      origin.unit = levels[at].unit;
    }
  }
  fill_context(levels, at, origin);
  return origin;
}

} // namespace shimwatch
