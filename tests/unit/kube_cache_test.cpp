// PodCache: the table the watcher writes and attribution reads.
#include <gtest/gtest.h>

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
