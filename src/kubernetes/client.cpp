#include "shimwatch/kubernetes.hpp"

namespace shimwatch {

struct KubeClient::Impl {
  KubeClientOptions options;
  PodCache &cache;
};

KubeClient::KubeClient(KubeClientOptions options, PodCache &cache)
    : impl_(new Impl{std::move(options), cache}) {}
KubeClient::~KubeClient() { stop(); }
void KubeClient::start() {}
void KubeClient::stop() {}
KubeClientStats KubeClient::stats() const { return {}; }

} // namespace shimwatch
