// No silent loss: a matching connect storm far beyond what the agent keeps
// up with (under a CPU limit, through a small kernel ring buffer), and every event
// the test generated is either a record in the JSON output or counted as
// lost, exactly: in the gap records of that output, in the totals the agent
// logs when it stops, and in shimwatch_events_dropped_total.
//
// The agent watches nothing but a socket of the test's own, so every event
// the kernel matches (and every one it drops, which carries no pid) is the
// test's.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "accepting_listener.hpp"
#include "harness.hpp"
#include "rsyslog_peer.hpp"

using namespace std::chrono_literals;
using namespace swtest;
using nlohmann::json;

namespace {

// The agent runs under a CPU limit, as a DaemonSet's resources.limits.cpu
// holds it: 10 % of a core. What it sustains is then a small, known share of
// what the storm's workers make flat out, and the test checks that the storm
// was at least kOverload times what the agent delivered (about 10-20 times
// here). More workers than cores, so that the generators always have work.
constexpr int kAgentCpuPercent = 10;
constexpr int kOverload = 4;
constexpr int kWorkers = 4;
constexpr int kConnectsPerWorker = 10'000;
constexpr uint64_t kGenerated = uint64_t{kWorkers} * kConnectsPerWorker;
// The smallest ring buffer the agent accepts: a burst fills it at once.
constexpr const char *kRingBufferKib = "64";

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-25T14:28:41.121836Z" (the agent's format) in ns since the epoch;
// -1 when it is not one.
int64_t parse_timestamp(const std::string &text) {
  std::tm tm{};
  int micros = -1;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) != 7 ||
      text.size() != 27)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return int64_t{timegm(&tm)} * 1'000'000'000 + int64_t{micros} * 1000;
}

// Holds a process (all its threads) to a share of one core for the
// object's life, in a cgroup of its own: the cpu controller of cgroup v1, or
// cpu.max on cgroup v2.
class CpuLimit {
public:
  CpuLimit(pid_t pid, int percent) : pid_(pid) {
    const std::string name = "shimwatch-overload-" + std::to_string(getpid());
    const long period_us = 100'000, quota_us = period_us * percent / 100;
    if (access("/sys/fs/cgroup/cpu/cgroup.procs", W_OK) == 0) {
      parent_ = "/sys/fs/cgroup/cpu";
      dir_ = parent_ + "/" + name;
      make_dir();
      write_file(dir_ + "/cpu.cfs_period_us", std::to_string(period_us));
      write_file(dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us));
    } else {
      parent_ = "/sys/fs/cgroup";
      std::ifstream controllers(parent_ + "/cgroup.controllers");
      std::string all((std::istreambuf_iterator<char>(controllers)), {});
      if (all.find("cpu") == std::string::npos)
        throw std::runtime_error("no cgroup cpu controller to limit the agent with");
      write_file(parent_ + "/cgroup.subtree_control", "+cpu");
      dir_ = parent_ + "/" + name;
      make_dir();
      write_file(dir_ + "/cpu.max", std::to_string(quota_us) + " " + std::to_string(period_us));
    }
    write_file(dir_ + "/cgroup.procs", std::to_string(pid_));
  }
  ~CpuLimit() {
    // Back to the parent when it still runs; an empty cgroup can go.
    if (kill(pid_, 0) == 0) {
      std::ofstream(parent_ + "/cgroup.procs") << pid_;
    }
    for (int i = 0; i < 50 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(20ms);
  }
  CpuLimit(const CpuLimit &) = delete;
  CpuLimit &operator=(const CpuLimit &) = delete;

private:
  void make_dir() {
    if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("mkdir " + dir_ + ": " + std::strerror(errno));
  }
  pid_t pid_;
  std::string parent_, dir_;
};

struct Storm {
  std::set<pid_t> workers;
  int64_t start_ns = 0; // wall clock, when the workers were let go
  int64_t end_ns = 0;   // when the last one had exited
  bool all_ok = true;   // every worker made every connect() call
};

// kWorkers processes, released together, each calling connect() on path
// kConnectsPerWorker times flat out. Every call is an event whatever it
// returns (a refused connect is reported too), so the count is exact.
Storm connect_storm(const std::string &path) {
  Storm storm;
  int release[2];
  if (pipe2(release, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  const sockaddr_un address = unix_address(path);
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls from here: the parent has threads.
      close(release[1]);
      char go;
      if (read(release[0], &go, 1) != 0)
        _exit(3);
      for (int i = 0; i < kConnectsPerWorker; ++i)
        connect_once_in_child(address);
      _exit(0);
    }
    if (pid < 0)
      throw std::runtime_error("fork failed");
    storm.workers.insert(pid);
  }
  close(release[0]);
  storm.start_ns = unix_now_ns();
  close(release[1]); // end of file: every worker starts
  for (pid_t pid : storm.workers) {
    int status = 0;
    waitpid(pid, &status, 0);
    storm.all_ok = storm.all_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  storm.end_ns = unix_now_ns();
  return storm;
}

uint64_t sum_of(const std::map<std::string, double> &samples) {
  double sum = 0;
  for (const auto &[labels, value] : samples)
    sum += value;
  return static_cast<uint64_t>(sum);
}

// What one output's records say: the test's events, and the losses its gap
// records report by stage and reason.
struct Accounting {
  uint64_t events = 0;
  uint64_t other_records = 0; // neither the test's event nor a gap record
  uint64_t from_other_pids = 0;
  std::vector<json> gaps;
  uint64_t gap_dropped = 0;
  // "kernel/ring_buffer_full", "queue/stdout" (as the metric labels it) → count
  std::map<std::string, uint64_t> gap_reasons;
};

std::string text_at(const json &record, const char *pointer) {
  const json::json_pointer where(pointer);
  return record.is_object() && record.contains(where) && record.at(where).is_string()
             ? record.at(where).get<std::string>()
             : "";
}

uint64_t count_of(const std::map<std::string, uint64_t> &counts, const std::string &key) {
  auto found = counts.find(key);
  return found == counts.end() ? 0 : found->second;
}

Accounting account(const std::vector<json> &records, const std::string &socket_path,
                   const std::set<pid_t> &workers) {
  Accounting a;
  for (const json &r : records) {
    const std::string action = text_at(r, "/event/action");
    if (action == "shimwatch-gap") {
      const json &gap = r["shimwatch"]["gap"];
      a.gaps.push_back(r);
      a.gap_dropped += gap["dropped"].get<uint64_t>();
      const std::string stage = gap["stage"];
      for (const auto &[key, value] : gap.items()) {
        if (key == "dropped" || key == "stage" || key == "first" || key == "last" ||
            key == "destination")
          continue;
        if (value.get<uint64_t>() == 0)
          continue;
        // The metrics label queue losses by output, and malformed records
        // (reported with the kernel's losses) as the decoder's.
        std::string label = stage == "queue" ? "queue/" + gap.value("destination", "?")
                            : stage == "kernel" && key == "malformed" ? "decode/malformed"
                                                                      : stage + "/" + key;
        a.gap_reasons[label] += value.get<uint64_t>();
      }
      continue;
    }
    if (action == "docker-socket-connect" && text_at(r, "/shimwatch/socket/path") == socket_path) {
      ++a.events;
      if (!workers.count(r["process"].value("pid", -1)))
        ++a.from_other_pids;
      continue;
    }
    ++a.other_records;
  }
  return a;
}

// "stage/reason" → value, from shimwatch_events_dropped_total's samples.
std::map<std::string, uint64_t> drops_by_stage(const std::string &metrics) {
  std::map<std::string, uint64_t> out;
  std::regex stage_reason(R"re(reason="([^"]*)",stage="([^"]*)")re");
  for (const auto &[labels, value] : metric_samples(metrics, "shimwatch_events_dropped_total")) {
    std::smatch m;
    if (std::regex_search(labels, m, stage_reason) && value > 0)
      out[std::string(m[2]) + "/" + std::string(m[1])] += static_cast<uint64_t>(value);
  }
  return out;
}

std::string describe(const std::map<std::string, uint64_t> &counts) {
  std::string out;
  for (const auto &[key, n] : counts)
    out += key + "=" + std::to_string(n) + " ";
  return out;
}

// A gap record's time range is well formed and covers when the loss can
// have happened: a kernel loss is noticed at the agent's next look, within
// the agent's life; a queue loss carries the lost events' own times, within
// the storm.
void expect_gap_ranges(const Accounting &a, int64_t agent_started_ns, int64_t agent_stopped_ns,
                       const Storm &storm) {
  // Event times are the kernel's boot clock moved to the wall clock, with
  // an offset read at most a second earlier.
  constexpr int64_t kClockSlackNs = 100'000'000;
  for (const json &record : a.gaps) {
    const json &gap = record["shimwatch"]["gap"];
    const int64_t first = parse_timestamp(gap.value("first", ""));
    const int64_t last = parse_timestamp(gap.value("last", ""));
    ASSERT_GT(first, 0) << record.dump();
    ASSERT_GT(last, 0) << record.dump();
    EXPECT_LE(first, last) << record.dump();
    EXPECT_EQ(record["event"]["outcome"], "unknown") << record.dump();
    EXPECT_FALSE(record.value("message", "").empty()) << record.dump();
    if (gap["stage"] == "kernel") {
      EXPECT_GE(first, agent_started_ns) << record.dump();
      EXPECT_LE(last, agent_stopped_ns) << record.dump();
      EXPECT_LE(first, storm.end_ns)
          << "a kernel gap that cannot cover the storm: " << record.dump();
      EXPECT_GE(last, storm.start_ns)
          << "a kernel gap that cannot cover the storm: " << record.dump();
    } else {
      EXPECT_GE(first, storm.start_ns - kClockSlackNs) << record.dump();
      EXPECT_LE(last, storm.end_ns + kClockSlackNs) << record.dump();
    }
  }
}

// The totals the agent logs when it stops: events the kernel matched and
// sent, and those it lost.
struct KernelTotals {
  uint64_t emitted = 0, lost = 0;
  bool found = false;
};

KernelTotals kernel_totals_at_stop(const std::string &log) {
  std::smatch m;
  static const std::regex line(R"(stopping: (\d+) events matched in the kernel, (\d+) lost there)");
  if (!std::regex_search(log, m, line))
    return {};
  return {std::stoull(m[1]), std::stoull(m[2]), true};
}

std::vector<std::string> agent_flags(const std::string &config, int metrics_port,
                                     const std::vector<std::string> &extra = {}) {
  std::vector<std::string> flags = {
      "--config",          config,
      "--format",          "json",
      "--no-dedupe", // one record per connect: repeats are the whole storm
      "--ring-buffer-kib", kRingBufferKib,
      "--metrics-address", metrics_port > 0 ? "127.0.0.1:" + std::to_string(metrics_port) : "off"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

// The JSON body of every message rsyslog received ({} when one is not JSON).
std::vector<json> syslog_records(const RsyslogPeer &peer) {
  std::vector<json> out;
  for (const json &message : peer.received())
    out.push_back(message.contains("msg") && message["msg"].is_string()
                      ? json::parse(message["msg"].get<std::string>(), nullptr, false)
                      : json());
  return out;
}

// The equation for one run: what the test generated is what the output
// holds plus what its gap records say was lost, and the kernel's own totals
// agree. Returns the output's accounting for further checks.
Accounting expect_every_event_accounted(const AgentOutput &out, const std::string &socket_path,
                                        const Storm &storm) {
  Accounting a = account(out.events, socket_path, storm.workers);
  EXPECT_TRUE(out.unparsable.empty()) << out.unparsable.size() << " lines are not JSON";
  EXPECT_EQ(a.other_records, 0u) << "records that are neither the test's events nor gaps";
  EXPECT_EQ(a.from_other_pids, 0u) << "events on the test's socket from outside the storm";

  // TRIGGER worked: the kernel really dropped, and the output says so.
  EXPECT_GT(a.gap_dropped, 0u) << "no loss under overload: the test did not overload";
  EXPECT_GE(a.gaps.size(), 1u);
  EXPECT_GT(count_of(a.gap_reasons, "kernel/ring_buffer_full"), 0u) << describe(a.gap_reasons);

  // The equation, exactly.
  EXPECT_EQ(a.events + a.gap_dropped, kGenerated)
      << a.events << " events written + " << a.gap_dropped << " reported lost in gap records ("
      << describe(a.gap_reasons) << ") != " << kGenerated << " generated\n"
      << out.log;

  // The kernel's totals at stop: every call was either sent or counted lost
  // there, and its losses are the kernel gaps' sum.
  KernelTotals kernel = kernel_totals_at_stop(out.log);
  EXPECT_TRUE(kernel.found) << out.log;
  EXPECT_EQ(kernel.emitted + kernel.lost, kGenerated) << out.log;
  uint64_t kernel_gaps = 0;
  for (const char *reason : {"ring_buffer_full", "pending_table_full", "address_unreadable"})
    kernel_gaps += count_of(a.gap_reasons, std::string("kernel/") + reason);
  EXPECT_EQ(kernel_gaps, kernel.lost) << describe(a.gap_reasons) << "\n" << out.log;
  return a;
}

// Losses of one output in metric terms: what stage/reason series count
// against it (the kernel's and the decoder's count against every output).
std::map<std::string, uint64_t> losses_of(const std::map<std::string, uint64_t> &drops,
                                          const std::string &output) {
  std::map<std::string, uint64_t> out;
  for (const auto &[label, n] : drops)
    if (label.rfind("kernel/", 0) == 0 || label.rfind("decode/", 0) == 0 ||
        label == "queue/" + output || label.rfind(output + "/", 0) == 0)
      out[label] = n;
  return out;
}

uint64_t total(const std::map<std::string, uint64_t> &counts) {
  uint64_t sum = 0;
  for (const auto &[label, n] : counts)
    sum += n;
  return sum;
}

// The storm came at least kOverload times as fast as the agent delivered
// (the events an output wrote, from the storm's start until delivered_by_ns).
void expect_overload(const Storm &storm, uint64_t delivered, int64_t delivered_by_ns) {
  const double storm_rate = kGenerated * 1e9 / double(storm.end_ns - storm.start_ns);
  const double delivered_rate = delivered * 1e9 / double(delivered_by_ns - storm.start_ns);
  EXPECT_GE(storm_rate, kOverload * delivered_rate)
      << "generated " << storm_rate << "/s, delivered " << delivered_rate << "/s";
  ::testing::Test::RecordProperty("overload",
                                  std::to_string(storm_rate / std::max(delivered_rate, 1.0)));
}

// Storm, then SIGTERM at once, while the agent is still working through the
// backlog: the drain must lose nothing silently either.
Accounting stop_mid_drain(const std::vector<std::string> &extra_flags) {
  TempDir dir;
  const std::string socket_path = dir.file("overload.sock");
  AcceptingListener listener(socket_path);
  const int64_t agent_started_ns = unix_now_ns();
  Agent agent(agent_flags(only_socket_config(dir, socket_path), 0, extra_flags),
              /*default_output_flags=*/false);
  CpuLimit limit(agent.pid(), kAgentCpuPercent);

  // TRIGGER: a storm of connects; the agent is stopped at once, mid-drain.
  Storm storm = connect_storm(socket_path);
  EXPECT_TRUE(storm.all_ok) << "a worker could not make all its connect() calls";

  // ASSERT
  auto out = agent.stop();
  const int64_t agent_stopped_ns = unix_now_ns();
  EXPECT_EQ(out.exit_code, 0) << out.log;

  Accounting a = expect_every_event_accounted(out, socket_path, storm);
  expect_gap_ranges(a, agent_started_ns, agent_stopped_ns, storm);
  expect_overload(storm, a.events, agent_stopped_ns);
  ::testing::Test::RecordProperty("generated", std::to_string(kGenerated));
  ::testing::Test::RecordProperty("written", std::to_string(a.events));
  ::testing::Test::RecordProperty("lost", describe(a.gap_reasons));
  ::testing::Test::RecordProperty("storm_ms",
                                  std::to_string((storm.end_ns - storm.start_ns) / 1'000'000));
  return a;
}

} // namespace

TEST(Overload, EveryEventIsWrittenOrCountedWhenStoppedMidDrain) {
  stop_mid_drain({});
}

// An output queue of 64 records: stdout falls behind the reader too, and
// what it skips is a gap record of its own next to the kernel's. A ring
// buffer of 1 MiB (about 200 records) fills while the limited agent waits
// for its next slice of CPU, and one poll then reads more than the queue holds.
TEST(Overload, EveryEventIsWrittenOrCountedWhenStdoutFallsBehind) {
  Accounting a = stop_mid_drain({"--output-queue-size", "64", "--ring-buffer-kib", "1024"});
  EXPECT_GT(count_of(a.gap_reasons, "queue/stdout"), 0u) << describe(a.gap_reasons);
}

// Left to catch up before it stops, with syslog forwarding to a real
// rsyslogd over TCP as a second output whose queue (16 messages) overflows:
// each output's records plus its gap records make up the storm, and the
// drop counters carry the same numbers as the gap records, series by series.
TEST(Overload, DropCountersMatchTheGapRecordsOfEveryOutput) {
  RsyslogPeerOptions peer_options;
  peer_options.udp = false; // a datagram the collector misses is lost unseen
  RsyslogPeer peer(peer_options);
  TempDir dir;
  const std::string socket_path = dir.file("overload.sock");
  AcceptingListener listener(socket_path);
  const int port = free_port();
  const int64_t agent_started_ns = unix_now_ns();
  Agent agent(agent_flags(only_socket_config(dir, socket_path), port,
                          {"--syslog", peer.tcp_url(), "--syslog-queue-size", "16"}),
              /*default_output_flags=*/false);
  CpuLimit limit(agent.pid(), kAgentCpuPercent);

  // TRIGGER: a storm of connects.
  Storm storm = connect_storm(socket_path);
  ASSERT_TRUE(storm.all_ok) << "a worker could not make all its connect() calls";

  // ASSERT
  // Caught up: every generated event is in each output or in its gap
  // records, and the counters (reported once a second) say the same.
  std::string metrics;
  Accounting on_stdout, on_syslog;
  auto settled = [&] {
    std::vector<json> records;
    std::istringstream lines(read_file(agent.dir() + "/stdout"));
    for (std::string line; std::getline(lines, line);)
      records.push_back(json::parse(line, nullptr, false));
    on_stdout = account(records, socket_path, storm.workers);
    on_syslog = account(syslog_records(peer), socket_path, storm.workers);
    if (on_stdout.events + on_stdout.gap_dropped != kGenerated ||
        on_syslog.events + on_syslog.gap_dropped != kGenerated)
      return false;
    metrics = http_get(port, "/metrics");
    auto drops = drops_by_stage(metrics);
    return losses_of(drops, "stdout") == on_stdout.gap_reasons &&
           losses_of(drops, "syslog") == on_syslog.gap_reasons;
  };
  const bool caught_up = wait_for(settled, 20s);

  auto out = agent.stop();
  const int64_t agent_stopped_ns = unix_now_ns();
  ASSERT_EQ(out.exit_code, 0) << out.log;
  Accounting a = expect_every_event_accounted(out, socket_path, storm);
  expect_gap_ranges(a, agent_started_ns, agent_stopped_ns, storm);
  ASSERT_TRUE(caught_up) << "the outputs and the counters did not agree within 20 s:\n"
                         << "metrics: " << describe(drops_by_stage(metrics))
                         << "\nstdout: " << on_stdout.events << " events, gap records "
                         << describe(on_stdout.gap_reasons) << "\nsyslog: " << on_syslog.events
                         << " events, gap records " << describe(on_syslog.gap_reasons) << "\n"
                         << out.log;

  // Nothing more reached syslog at stop, and its records are whole.
  on_syslog = account(syslog_records(peer), socket_path, storm.workers);
  EXPECT_EQ(on_syslog.other_records, 0u) << peer.diagnostics();
  EXPECT_EQ(on_syslog.from_other_pids, 0u);
  EXPECT_EQ(on_syslog.events + on_syslog.gap_dropped, kGenerated)
      << on_syslog.events << " forwarded + gap records " << describe(on_syslog.gap_reasons);
  EXPECT_GT(count_of(on_syslog.gap_reasons, "kernel/ring_buffer_full"), 0u);
  EXPECT_GT(count_of(on_syslog.gap_reasons, "syslog/queue_full"), 0u)
      << describe(on_syslog.gap_reasons);
  expect_gap_ranges(on_syslog, agent_started_ns, agent_stopped_ns, storm);

  // Per output, the equation over the counters alone.
  const auto drops = drops_by_stage(metrics);
  EXPECT_EQ(losses_of(drops, "stdout"), a.gap_reasons);
  EXPECT_EQ(a.events + total(losses_of(drops, "stdout")), kGenerated) << metrics;
  EXPECT_EQ(on_syslog.events + total(losses_of(drops, "syslog")), kGenerated) << metrics;
  // Every series belongs to one output or to all: none is left out above.
  std::map<std::string, uint64_t> accounted = losses_of(drops, "stdout");
  accounted.merge(losses_of(drops, "syslog"));
  EXPECT_EQ(accounted, drops);
  // What the kernel sent and what it lost add up to what was generated.
  const uint64_t sent = sum_of(metric_samples(metrics, "shimwatch_kernel_events_total"));
  EXPECT_EQ(sent + count_of(a.gap_reasons, "kernel/ring_buffer_full") +
                count_of(a.gap_reasons, "kernel/pending_table_full") +
                count_of(a.gap_reasons, "kernel/address_unreadable"),
            kGenerated);
  // Every event that reached user space was counted as reported; none were
  // filtered or excluded.
  EXPECT_EQ(sum_of(metric_samples(metrics, "shimwatch_events_total")),
            sent - count_of(a.gap_reasons, "decode/malformed"));
  EXPECT_EQ(sum_of(metric_samples(metrics, "shimwatch_events_filtered_total")), 0u);
  RecordProperty("stdout", std::to_string(a.events) + " written, " + describe(a.gap_reasons));
  RecordProperty("syslog", std::to_string(on_syslog.events) + " forwarded, " +
                               describe(on_syslog.gap_reasons));
}
