// PodCache: the table the watcher writes and attribution reads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "shimwatch/kubernetes.hpp"

using shimwatch::PodCache;
using shimwatch::PodInfo;

namespace {

PodInfo pod(const std::string &uid, const std::string &name) {
  PodInfo p;
  p.uid = uid;
  p.name = name;
  p.namespace_name = "default";
  p.containers.push_back({"id-" + uid, "containerd", "main", "busybox"});
  return p;
}

} // namespace

TEST(KubePodCache, UpsertFindErase) {
  PodCache cache;
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find("a").has_value());

  cache.upsert(pod("a", "first"));
  cache.upsert(pod("b", "second"));
  EXPECT_EQ(cache.size(), 2u);
  auto a = cache.find("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->name, "first");
  ASSERT_NE(a->find_container("id-a"), nullptr);

  cache.upsert(pod("a", "renamed")); // MODIFIED replaces the whole entry
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("a")->name, "renamed");

  cache.erase("a");
  EXPECT_FALSE(cache.find("a").has_value());
  EXPECT_EQ(cache.size(), 1u);
  cache.erase("a"); // erasing what is not there is harmless
  cache.erase("nope");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(KubePodCache, ReplaceAllDropsWhatTheListNoLongerHas) {
  PodCache cache;
  cache.upsert(pod("old", "gone-meanwhile"));
  cache.upsert(pod("kept", "before"));
  cache.replace_all({pod("kept", "after"), pod("new", "fresh")});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("old").has_value());
  EXPECT_EQ(cache.find("kept")->name, "after");
  EXPECT_EQ(cache.find("new")->name, "fresh");

  // Duplicates in a list: the last one wins.
  cache.replace_all({pod("x", "one"), pod("x", "two")});
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("x")->name, "two");

  cache.replace_all({});
  EXPECT_EQ(cache.size(), 0u);
}

TEST(KubePodCache, ConcurrentReadersAndWriter) {
  PodCache cache;
  std::atomic<bool> done{false};
  std::atomic<long> hits{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      while (!done) {
        if (auto p = cache.find("p7"))
          hits += p->uid == "p7";
        (void)cache.size();
      }
    });
  for (int round = 0; round < 2000; ++round) {
    std::vector<PodInfo> pods;
    for (int i = 0; i < 10; ++i)
      pods.push_back(pod("p" + std::to_string(i), "r" + std::to_string(round)));
    cache.replace_all(std::move(pods));
    cache.upsert(pod("extra", "x"));
    cache.erase("p3");
  }
  done = true;
  for (auto &t : readers)
    t.join();
  EXPECT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.find("p0")->name, "r1999");
}

// Static pods run under kubelet's own uid (their cgroup says so); the API
// server only knows the mirror pod, whose annotation carries that uid.
TEST(KubePodCache, StaticPodIsFoundByTheUidItRunsUnder) {
  nlohmann::json mirror = {
      {"metadata",
       {{"uid", "a1b2c3d4-0000-4000-8000-000000000001"},
        {"name", "etcd-node-1"},
        {"namespace", "kube-system"},
        {"annotations", {{"kubernetes.io/config.mirror", "3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e"}}},
        {"ownerReferences", nlohmann::json::array({{{"apiVersion", "v1"},
                                                    {"kind", "Node"},
                                                    {"name", "node-1"},
                                                    {"uid", "n1"},
                                                    {"controller", true}}})}}},
      {"spec", {{"nodeName", "node-1"}}}};
  auto parsed = shimwatch::parse_pod(mirror);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->mirror_of, "3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e");

  PodCache cache;
  cache.upsert(*parsed);
  auto by_cgroup_uid = cache.find("3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e");
  ASSERT_TRUE(by_cgroup_uid.has_value());
  EXPECT_EQ(by_cgroup_uid->name, "etcd-node-1");
  EXPECT_EQ(by_cgroup_uid->workload_kind, "Node");
  EXPECT_TRUE(cache.find("a1b2c3d4-0000-4000-8000-000000000001").has_value());

  cache.erase("a1b2c3d4-0000-4000-8000-000000000001");
  EXPECT_FALSE(cache.find("3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e").has_value());

  cache.replace_all({*parsed});
  EXPECT_TRUE(cache.find("3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e").has_value());
  cache.replace_all({});
  EXPECT_FALSE(cache.find("3f1c5e7a9b2d4f6a8c0e1b3d5f7a9c2e").has_value());
}
