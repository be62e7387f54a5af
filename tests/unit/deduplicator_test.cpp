// Deduplicator: first in full, repeats folded into per-window summaries, nothing lost.
#include <gtest/gtest.h>

#include "shimwatch/aggregate.hpp"

using namespace shimwatch;

namespace {

constexpr int64_t second = 1'000'000'000;
constexpr int64_t window = 60 * second;

Event poll_event(int64_t t, const std::string &workload = "dd-agent") {
  Event e;
  e.action = Action::docker_socket_connect;
  e.timestamp_ns = t;
  e.socket_path = "/var/run/docker.sock";
  e.process.args = {"agent", "run"};
  e.origin.type = OriginType::pod;
  e.origin.kubernetes_known = true;
  e.origin.namespace_name = "monitoring";
  e.origin.workload_kind = "DaemonSet";
  e.origin.workload_name = workload;
  e.origin.container_name = "agent";
  return e;
}

// Keys whose samples hold a lot (thousands of arguments) fill the byte
// bound before the count: past it, events pass unfolded, counted, and
// keys tracked already still fold.
TEST(Deduplicator, BoundedByBytesAsWellAsByKeys) {
  Event first = poll_event(0);
  first.process.args.assign(2000, "x");
  const size_t one = approximate_bytes(first) + 1000;
  Deduplicator d(window, 10000, 5 * one);
  for (int i = 0; i < 20; ++i) {
    Event e = poll_event(i);
    e.process.args.assign(2000, "x");
    e.process.args[0] = "distinct-" + std::to_string(i);
    EXPECT_TRUE(d.admit(e)) << i;
  }
  EXPECT_LE(d.tracked(), 5u);
  EXPECT_GE(d.tracked(), 4u);
  EXPECT_LE(d.tracked_bytes(), 5 * one);
  EXPECT_EQ(d.untracked(), 20u - d.tracked());
  // A repeat of a tracked key still folds.
  Event again = poll_event(100);
  again.process.args.assign(2000, "x");
  again.process.args[0] = "distinct-0";
  EXPECT_FALSE(d.admit(again));
  // Windows that end give the bytes back.
  d.due(window * 3, true);
  EXPECT_EQ(d.tracked(), 0u);
  EXPECT_EQ(d.tracked_bytes(), 0u);
}

TEST(Deduplicator, PollingAgentIsOneLinePlusOneSummaryPerWindow) {
  Deduplicator d(window, 100);
  uint64_t written = 0, folded = 0, summarised = 0;
  // Every 10 s for 10 minutes: 61 polls.
  for (int64_t t = 0; t <= 600 * second; t += 10 * second) {
    for (const auto &s : d.due(t)) {
      summarised += s.repeats;
      EXPECT_EQ(s.sample.origin.workload_name, "dd-agent");
      EXPECT_LE(s.first_seen_ns, s.last_seen_ns);
    }
    if (d.admit(poll_event(t)))
      ++written;
    else
      ++folded;
  }
  for (const auto &s : d.due(0, /*final=*/true))
    summarised += s.repeats;
  EXPECT_EQ(written, 1u);
  EXPECT_EQ(folded, 60u);
  EXPECT_EQ(summarised, folded); // every folded event is in a summary
}

TEST(Deduplicator, SummaryCarriesCountAndTimes) {
  Deduplicator d(window, 100);
  ASSERT_TRUE(d.admit(poll_event(0)));
  ASSERT_FALSE(d.admit(poll_event(10 * second)));
  ASSERT_FALSE(d.admit(poll_event(20 * second)));
  EXPECT_TRUE(d.due(59 * second).empty());
  auto due = d.due(60 * second);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].repeats, 2u);
  EXPECT_EQ(due[0].first_seen_ns, 10 * second);
  EXPECT_EQ(due[0].last_seen_ns, 20 * second);
  EXPECT_EQ(due[0].sample.timestamp_ns, 0);
  // The key goes on folding in the next window...
  EXPECT_FALSE(d.admit(poll_event(70 * second)));
  // ...and expires after a window without repeats; then it is new again.
  EXPECT_EQ(d.due(120 * second).size(), 1u);
  EXPECT_TRUE(d.due(180 * second).empty());
  EXPECT_EQ(d.tracked(), 0u);
  EXPECT_TRUE(d.admit(poll_event(181 * second)));
}

TEST(Deduplicator, DifferentOriginOutcomeTargetOrCommandAreNotFolded) {
  Deduplicator d(window, 100);
  EXPECT_TRUE(d.admit(poll_event(0)));
  EXPECT_TRUE(d.admit(poll_event(1, "fluent-bit")));
  Event failed = poll_event(2);
  failed.error = 111;
  EXPECT_TRUE(d.admit(failed));
  Event other_socket = poll_event(3);
  other_socket.socket_path = "/run/docker.sock";
  EXPECT_TRUE(d.admit(other_socket));
  Event other_args = poll_event(4);
  other_args.process.args = {"agent", "check"};
  EXPECT_TRUE(d.admit(other_args));
  Event exec = poll_event(5);
  exec.action = Action::docker_cli_exec;
  EXPECT_TRUE(d.admit(exec));
  EXPECT_EQ(d.tracked(), 6u);
}

TEST(Deduplicator, PodsOfOneWorkloadShareAKeyPodsUnknownDoNot) {
  Deduplicator d(window, 100);
  Event a = poll_event(0);
  a.origin.pod_name = "dd-agent-aaaaa";
  Event b = poll_event(1);
  b.origin.pod_name = "dd-agent-bbbbb";
  EXPECT_TRUE(d.admit(a));
  EXPECT_FALSE(d.admit(b));
  Event unknown = poll_event(2);
  unknown.origin.kubernetes_known = false;
  unknown.origin.cgroup.pod_uid = "uid-1";
  EXPECT_TRUE(d.admit(unknown));
}

TEST(Deduplicator, FullTablePassesEventsThroughAndCountsThem) {
  Deduplicator d(window, 2);
  EXPECT_TRUE(d.admit(poll_event(0, "a")));
  EXPECT_TRUE(d.admit(poll_event(0, "b")));
  EXPECT_TRUE(d.admit(poll_event(0, "c")));
  EXPECT_TRUE(d.admit(poll_event(1, "c")));
  EXPECT_EQ(d.untracked(), 2u);
  EXPECT_EQ(d.tracked(), 2u);
}

TEST(Deduplicator, FinalFlushEmitsEveryPendingSummary) {
  Deduplicator d(window, 100);
  d.admit(poll_event(0, "a"));
  d.admit(poll_event(1, "a"));
  d.admit(poll_event(2, "b"));
  d.admit(poll_event(3, "b"));
  d.admit(poll_event(4, "c")); // no repeat: nothing to summarise
  auto all = d.due(5, /*final=*/true);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(d.tracked(), 0u);
}

} // namespace
