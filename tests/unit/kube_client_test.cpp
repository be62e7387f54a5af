// KubeClient without an API server: failures, backoff, outage logging, stop().
// The full list/watch behaviour is in tests/integration/kube_client_test.cpp,
// against a stand-in API server.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "log_capture.hpp"
#include "shimwatch/kubernetes.hpp"

using namespace std::chrono_literals;
using shimwatch::KubeClient;
using shimwatch::KubeClientOptions;
using shimwatch::KubeClientStats;
using shimwatch::PodCache;

namespace {

const char *kToken = "s3cr3t-t0ken-never-logged";

using swtest::LogCapture;

// A TCP socket on 127.0.0.1 that listens but never accepts: connects
// complete in the kernel, the TLS handshake then hangs forever.
class SilentListener {
public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 where nothing listens (connection refused).
int closed_port() {
  SilentListener l;
  return l.port();
}

struct Fixture {
  std::string dir;
  Fixture() {
    char templ[] = "/tmp/shimwatch-kube-unit-XXXXXX";
    dir = mkdtemp(templ);
    std::ofstream(dir + "/token") << kToken << "\n";
  }
  ~Fixture() {
    std::remove((dir + "/token").c_str());
    rmdir(dir.c_str());
  }
  KubeClientOptions options(int port) const {
    KubeClientOptions o;
    o.api_server = "https://127.0.0.1:" + std::to_string(port);
    o.token_file = dir + "/token";
    o.node_name = "node-a";
    o.connect_timeout = 2000ms;
    o.request_timeout = 3000ms;
    o.backoff_initial = 10ms;
    o.backoff_max = 40ms;
    return o;
  }
};

template <typename Pred> bool wait_for(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::chrono::milliseconds timed_stop(KubeClient &client) {
  auto start = std::chrono::steady_clock::now();
  client.stop();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

} // namespace

TEST(KubeClientUnit, UnreachableServerIsOneOutageWithOneWarning) {
  LogCapture log;
  Fixture f;
  PodCache cache;
  KubeClient client(f.options(closed_port()), cache);
  client.start();
  ASSERT_TRUE(wait_for([&] { return client.stats().errors >= 5; }));
  KubeClientStats s = client.stats();
  EXPECT_EQ(s.outages, 1u);
  EXPECT_FALSE(s.reachable);
  EXPECT_FALSE(s.synced);
  EXPECT_EQ(s.lists, 0u);
  EXPECT_FALSE(s.last_error.empty());
  EXPECT_LT(timed_stop(client), 5000ms); // hangs for minutes if broken

  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("127.0.0.1"), std::string::npos) << warnings[0];
  EXPECT_FALSE(log.contains(kToken));
  EXPECT_EQ(s.last_error.find(kToken), std::string::npos);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(KubeClientUnit, BackoffGrowsToItsMaximum) {
  using shimwatch::backoff_delay;
  // 500 ms doubled each failure up to 30 s, without jitter...
  std::vector<int64_t> delays;
  for (int n = 0; n < 9; ++n)
    delays.push_back(backoff_delay(n, 500ms, 30000ms, 1.0).count());
  EXPECT_EQ(delays,
            (std::vector<int64_t>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  // ... the jitter spreads agents both ways, never past the maximum.
  EXPECT_EQ(backoff_delay(0, 500ms, 30000ms, 0.8).count(), 400);
  EXPECT_EQ(backoff_delay(0, 500ms, 30000ms, 1.2).count(), 600);
  EXPECT_EQ(backoff_delay(20, 500ms, 30000ms, 1.2).count(), 30000);
  EXPECT_EQ(backoff_delay(1000000, 500ms, 30000ms, 1.0).count(), 30000) << "no overflow";
  // A zero initial delay still waits (1 ms, doubling), never spins.
  EXPECT_EQ(backoff_delay(0, 0ms, 100ms, 1.0).count(), 1);
  EXPECT_EQ(backoff_delay(3, 0ms, 100ms, 1.0).count(), 8);
}

TEST(KubeClientUnit, StopDuringAHangingHandshakeIsPrompt) {
  SilentListener server;
  Fixture f;
  PodCache cache;
  auto options = f.options(server.port());
  options.connect_timeout = 30000ms;
  options.request_timeout = 60000ms;
  KubeClient client(options, cache);
  client.start();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(client.stats().errors, 0u);  // still waiting for the server hello
  EXPECT_LT(timed_stop(client), 5000ms); // hangs for minutes if broken
}

TEST(KubeClientUnit, StopDuringBackoffIsPrompt) {
  Fixture f;
  PodCache cache;
  auto options = f.options(closed_port());
  options.backoff_initial = 60000ms;
  options.backoff_max = 60000ms;
  KubeClient client(options, cache);
  client.start();
  ASSERT_TRUE(wait_for([&] { return client.stats().errors >= 1; }));
  EXPECT_LT(timed_stop(client), 5000ms); // hangs for minutes if broken
}

TEST(KubeClientUnit, MissingTokenFileIsAnError) {
  LogCapture log;
  Fixture f;
  PodCache cache;
  auto options = f.options(closed_port());
  options.token_file = f.dir + "/no-such-token";
  KubeClient client(options, cache);
  client.start();
  ASSERT_TRUE(wait_for([&] { return client.stats().errors >= 2; }));
  client.stop();
  EXPECT_NE(client.stats().last_error.find("no-such-token"), std::string::npos)
      << client.stats().last_error;
  EXPECT_EQ(client.stats().outages, 1u);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
}

TEST(KubeClientUnit, LifecycleWithoutStartAndRepeatedStops) {
  Fixture f;
  PodCache cache;
  {
    KubeClient idle(f.options(closed_port()), cache);
    idle.stop(); // never started
    EXPECT_EQ(idle.stats().errors, 0u);
  }
  KubeClient client(f.options(closed_port()), cache);
  client.start();
  client.start(); // already running: no second thread
  client.stop();
  client.stop();
  client.start(); // can run again
  ASSERT_TRUE(wait_for([&] { return client.stats().errors >= 1; }));
  // The destructor stops and joins.
}

TEST(KubeClientUnit, NoNodeNameIsAConfigError) {
  LogCapture log;
  Fixture f;
  PodCache cache;
  auto options = f.options(closed_port());
  options.node_name = "";
  KubeClient client(options, cache);
  client.start();
  ASSERT_TRUE(wait_for([&] { return client.stats().errors == 1; }));
  std::this_thread::sleep_for(100ms); // no retries
  EXPECT_EQ(client.stats().errors, 1u);
  EXPECT_EQ(log.lines(spdlog::level::warn).size(), 1u);
  client.stop();
}

TEST(KubeClientUnit, KubeletRetriesNoLaterThanThePollIntervalAndNeedsNoNodeName) {
  LogCapture log;
  Fixture f;
  PodCache cache;
  auto options = f.options(closed_port());
  options.source = shimwatch::KubeSource::kubelet;
  options.kubelet_url = options.api_server;
  options.api_server.clear();
  options.node_name.clear(); // a config error for the API server only
  options.backoff_initial = 60000ms;
  options.backoff_max = 60000ms;
  options.poll_interval = 100ms;
  KubeClient client(options, cache);
  client.start();
  // With the one-minute backoff uncapped, there would be a single error.
  ASSERT_TRUE(wait_for([&] { return client.stats().errors >= 3; }));
  KubeClientStats s = client.stats();
  EXPECT_EQ(s.outages, 1u);
  EXPECT_FALSE(s.reachable);
  EXPECT_EQ(s.lists, 0u);
  EXPECT_LT(timed_stop(client), 5000ms); // hangs for minutes if broken

  auto warnings = log.lines(spdlog::level::warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("kubelet https://127.0.0.1:"), std::string::npos) << warnings[0];
  EXPECT_FALSE(log.contains(kToken));
}
