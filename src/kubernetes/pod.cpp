#include <nlohmann/json.hpp>

#include "shimwatch/kubernetes.hpp"

namespace shimwatch {

const KubeContainer *PodInfo::find_container(std::string_view) const { return nullptr; }

Result<PodInfo> parse_pod(const nlohmann::json &) { return Error{"not implemented"}; }

Workload resolve_workload(const nlohmann::json &) { return {}; }

void PodCache::upsert(PodInfo) {}
void PodCache::erase(const std::string &) {}
void PodCache::replace_all(std::vector<PodInfo>) {}
std::optional<PodInfo> PodCache::find(std::string_view) const { return std::nullopt; }
size_t PodCache::size() const { return 0; }

} // namespace shimwatch
