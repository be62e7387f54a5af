// KubeClient: this node's pods from the API server (list + watch) or from the
// kubelet (polls of /pods), on its own thread.
//
// Life of the worker thread, API server source:
//   list (paginated with limit/continue) -> PodCache::replace_all, remember
//   the list's resourceVersion -> watch from it, applying each event as it
//   arrives -> when the server ends the watch (timeoutSeconds), watch again
//   from the last resourceVersion; on 410 Gone, list again; on failures
//   (connection, HTTP errors, invalid JSON) back off exponentially and list
//   again: events may have been missed during the outage, and a good list is
//   what ends it. Only a long-lived watch stream that drops (API server
//   restart, idle timeout of a load balancer) is re-watched at once from the
//   last resourceVersion, unless that is older than kStaleAfter.
//
// Kubelet source: GET /pods (a PodList of the kubelet's own pods, without
// resourceVersion, paging or watch) -> PodCache::replace_all, again every
// poll_interval. It is a list like the API server's first page, so it goes
// through the same request, PodList reading and outage accounting; failures
// back off as above but never wait longer than poll_interval.
//
// The requests go through the http stage's Client, whose stop() ends a
// transfer in flight at once.
//
// Logging: one warning when the server stops being usable (an outage),
// one info line when it works again, details at debug level. The token never
// leaves the Authorization header.
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "shimwatch/http.hpp"
#include "shimwatch/kubernetes.hpp"

namespace shimwatch {

std::chrono::milliseconds backoff_delay(int n, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double jitter) {
  double delay = static_cast<double>(std::max<int64_t>(initial.count(), 1));
  const double most = static_cast<double>(std::max<int64_t>(max.count(), 1));
  for (int i = 0; i < n && delay < most; ++i)
    delay *= 2;
  delay = std::min(delay, most);
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(delay * jitter, most)));
}

namespace {

using http::excerpt;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxEventLine = size_t{16} << 20; // one watch event
// Without a usable answer for this long, the resourceVersion has probably
// been compacted away: list again instead of watching from it.
constexpr auto kStaleAfter = std::chrono::seconds(60);
// A watch stream that breaks after this long is a dropped connection (API
// server restart, load balancer idle timeout): retry at once, no outage yet.
constexpr auto kEstablishedStream = std::chrono::seconds(1);
// The server ends watches after timeoutSeconds; this much later the stream is
// taken for a half-open connection.
constexpr auto kWatchGrace = std::chrono::seconds(60);

std::string string_at(const json &obj, std::string_view key) {
  if (!obj.is_object())
    return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json *object_at(const json &obj, std::string_view key) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? &*it : nullptr;
}

enum class Outcome {
  ok,         // list done / watch ended by the server
  stopped,    // stop() interrupted it
  gone,       // 410: the resourceVersion is too old
  connection, // no answer: connect, TLS, reset, timeout
  http,       // an HTTP error status
  garbage,    // an answer that is not what the API serves
  config,     // cannot even ask (token file)
};

struct Attempt {
  Outcome outcome = Outcome::ok;
  std::string message;
  bool established = false; // watch: the stream had been open for a while when it broke
};

// A request that got no HTTP answer, as an Attempt; what says which request.
Attempt unanswered(const http::Reply &reply, const std::string &what) {
  switch (reply.failure) {
  case http::Failure::stopped:
    return {Outcome::stopped, "stopped"};
  case http::Failure::token:
    return {Outcome::config, reply.error};
  case http::Failure::transfer:
    return {Outcome::connection, what + ": " + reply.error};
  case http::Failure::refused: // the reader's message says what it refused
    return {Outcome::garbage, reply.error};
  case http::Failure::too_large:
  case http::Failure::none:
    break;
  }
  return {Outcome::garbage, what + ": " + reply.error};
}

Attempt http_error(const http::Reply &reply, const std::string &what) {
  return {Outcome::http, what + ": " + http::status_error(reply.status, reply.body)};
}

http::Endpoint endpoint(const KubeClientOptions &options) {
  http::Endpoint endpoint;
  endpoint.url = options.source == KubeSource::kubelet ? options.kubelet_url : options.api_server;
  endpoint.token_file = options.token_file;
  endpoint.tls_verify = options.tls_verify;
  endpoint.ca_file = options.ca_file;
  endpoint.connect_timeout = options.connect_timeout;
  return endpoint;
}

} // namespace

struct KubeClient::Impl {
  KubeClientOptions options;
  PodCache &cache;
  http::Client http;    // reused: keeps the connection and TLS session
  std::string base_url; // for messages

  std::mutex lifecycle_mutex; // start/stop
  std::thread thread;
  std::mutex wait_mutex; // backoff sleeps
  std::condition_variable wait_cv;
  std::atomic<bool> stop_requested{false};

  mutable std::mutex stats_mutex;
  KubeClientStats stats;

  // Worker thread only.
  std::string resource_version;
  bool healthy = true; // false during an outage
  bool ever_synced = false;
  bool malformed_warned = false;
  Clock::time_point last_contact = Clock::now();

  Impl(KubeClientOptions o, PodCache &c)
      : options(std::move(o)), cache(c), http(endpoint(options)), base_url(http.base_url()) {}

  bool kubelet() const { return options.source == KubeSource::kubelet; }
  const char *server_kind() const { return kubelet() ? "kubelet" : "API server"; }

  // ---- list --------------------------------------------------------------

  // This node's pods: the API server filters by spec.nodeName.
  std::string pods_path() const {
    return "/api/v1/pods?fieldSelector=" + http::escape("spec.nodeName=" + options.node_name);
  }

  struct ListMeta {
    std::string resource_version; // empty from the kubelet
    std::string continue_token;
  };

  // One PodList (or a page of one): this node's pods are appended to pods,
  // malformed ones skipped and counted.
  Attempt read_pod_list(const std::string &text, const std::string &what,
                        std::vector<PodInfo> &pods, uint64_t &malformed, ListMeta &meta) {
    json page = json::parse(text, nullptr, false);
    if (page.is_discarded() || !page.is_object())
      return {Outcome::garbage, what + ": the answer is not JSON: " + excerpt(text)};
    const json *metadata = object_at(page, "metadata");
    auto items = page.find("items");
    bool items_ok = items != page.end() && (items->is_array() || items->is_null());
    if (!metadata || !items_ok)
      return {Outcome::garbage, what + ": the answer is not a PodList: " + excerpt(text)};
    meta.resource_version = string_at(*metadata, "resourceVersion");
    meta.continue_token = string_at(*metadata, "continue");
    if (items->is_array())
      for (const auto &item : *items) {
        auto pod = parse_pod(item);
        if (pod && ours(*pod))
          pods.push_back(std::move(pod).value());
        else if (pod)
          continue;
        else {
          ++malformed;
          note_malformed(pod.error().message);
        }
      }
    return {};
  }

  // A complete list replaces the cache; it is what ends an outage.
  void commit_list(std::vector<PodInfo> pods, uint64_t malformed, const std::string &rv) {
    size_t count = pods.size();
    cache.replace_all(std::move(pods));
    {
      std::lock_guard lock(stats_mutex);
      stats.lists++;
      stats.malformed_pods += malformed;
      stats.synced = true;
    }
    last_contact = Clock::now();
    std::string what = options.node_name.empty()
                           ? fmt::format("{} pods", count)
                           : fmt::format("{} pods on node {}", count, options.node_name);
    if (!healthy)
      note_usable(what); // the one "works again" line
    else if (!ever_synced)
      spdlog::info("kubernetes: listed {} from {}", what, base_url);
    else if (!rv.empty())
      spdlog::debug("kubernetes: listed {}, resourceVersion {}", what, rv);
    else
      spdlog::debug("kubernetes: listed {}", what);
    note_usable();
    ever_synced = true;
  }

  Attempt list() {
    const std::string what = "listing pods";
    std::vector<PodInfo> pods;
    uint64_t malformed = 0;
    ListMeta meta;
    http::Reply reply = http.list(
        pods_path(), options.request_timeout,
        [&](const std::string &body) -> Result<std::string> {
          if (Attempt a = read_pod_list(body, what, pods, malformed, meta);
              a.outcome != Outcome::ok)
            return Error{a.message};
          if (meta.resource_version.empty())
            return Error{what + ": the PodList has no resourceVersion"};
          return meta.continue_token;
        },
        [&] {
          pods.clear();
          malformed = 0;
          meta = {};
        });
    if (!reply.answered())
      return unanswered(reply, what);
    if (reply.status != 200)
      return http_error(reply, what);
    resource_version = meta.resource_version;
    commit_list(std::move(pods), malformed, resource_version);
    return {};
  }

  // The kubelet answers /pods with all of its pods at once, no paging.
  Attempt poll_kubelet() {
    const std::string what = "listing the kubelet's pods";
    http::Reply reply = http.get("/pods", options.request_timeout);
    if (!reply.answered())
      return unanswered(reply, what);
    if (reply.status != 200)
      return http_error(reply, what);
    std::vector<PodInfo> pods;
    uint64_t malformed = 0;
    ListMeta meta;
    if (Attempt a = read_pod_list(reply.body, what, pods, malformed, meta);
        a.outcome != Outcome::ok)
      return a;
    commit_list(std::move(pods), malformed, "");
    return {};
  }

  // ---- watch -------------------------------------------------------------

  struct WatchStream {
    std::string buffer; // bytes after the last complete line
    Attempt failure;    // set when a line ended the stream
    bool got_event = false;
  };

  // A piece of a 200 answer's stream. False ends the stream (failure is set).
  bool watch_data(std::string_view data, WatchStream &stream) {
    try {
      stream.buffer.append(data);
      // Complete lines only; a line may span several pieces.
      size_t start = 0;
      while (true) {
        size_t nl = stream.buffer.find('\n', start);
        if (nl == std::string::npos)
          break;
        std::string_view line(stream.buffer.data() + start, nl - start);
        start = nl + 1;
        if (!watch_line(line, stream))
          return false;
      }
      stream.buffer.erase(0, start);
      if (stream.buffer.size() > kMaxEventLine) {
        stream.failure = {Outcome::garbage, "a watch event is larger than " +
                                                std::to_string(kMaxEventLine >> 20) + " MiB"};
        return false;
      }
      return true;
    } catch (const std::exception &e) {
      stream.failure = {Outcome::garbage, std::string("watch stream: ") + e.what()};
      return false;
    }
  }

  // One line of the watch stream. False ends the stream (failure is set).
  bool watch_line(std::string_view line, WatchStream &stream) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    if (line.empty())
      return true;
    json event = json::parse(line, nullptr, false);
    std::string type = string_at(event, "type");
    const json *object = object_at(event, "object");
    if (event.is_discarded() || type.empty() || !object) {
      stream.failure = {Outcome::garbage, "the watch stream is not watch events: " + excerpt(line)};
      return false;
    }
    if (type == "ERROR") {
      auto code = object->find("code");
      bool gone = code != object->end() && code->is_number_integer() && code->get<long>() == 410;
      stream.failure = {gone ? Outcome::gone : Outcome::http,
                        "watch ERROR event: " + excerpt(string_at(*object, "message"), 300)};
      return false;
    }
    if (!stream.got_event) {
      stream.got_event = true;
      note_usable();
    }
    last_contact = Clock::now();

    const json *metadata = object_at(*object, "metadata");
    std::string rv = metadata ? string_at(*metadata, "resourceVersion") : std::string();
    bool counted = true;
    bool malformed = false;
    if (type == "ADDED" || type == "MODIFIED") {
      auto pod = parse_pod(*object);
      if (pod && ours(*pod))
        cache.upsert(std::move(pod).value());
      else if (pod)
        cache.erase(pod->uid);
      else {
        malformed = true;
        note_malformed(pod.error().message);
      }
    } else if (type == "DELETED") {
      std::string uid = metadata ? string_at(*metadata, "uid") : std::string();
      if (!uid.empty())
        cache.erase(uid);
      else {
        malformed = true;
        note_malformed("DELETED event without metadata.uid");
      }
    } else {
      counted = false; // BOOKMARK (only moves the resourceVersion) or a newer type
      if (type != "BOOKMARK")
        spdlog::debug("kubernetes: ignoring watch event of type {}", excerpt(type));
    }
    if (!rv.empty())
      resource_version = rv;
    std::lock_guard lock(stats_mutex);
    if (counted)
      stats.watch_events++;
    if (malformed)
      stats.malformed_pods++;
    return true;
  }

  Attempt watch() {
    const std::string what = "watching pods";
    std::string path =
        pods_path() + "&watch=1&resourceVersion=" + http::escape(resource_version) +
        "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(options.watch_timeout.count());
    WatchStream stream;
    http::StreamReader reader;
    reader.on_headers = [this](long status) {
      if (status == 200) {
        std::lock_guard lock(stats_mutex);
        stats.watches++;
      }
    };
    reader.on_data = [this, &stream](std::string_view data) { return watch_data(data, stream); };
    auto started = Clock::now();
    http::Reply reply = http.stream(
        path,
        std::chrono::duration_cast<std::chrono::milliseconds>(options.watch_timeout + kWatchGrace),
        reader);
    if (stop_requested)
      return {Outcome::stopped, "stopped"};
    if (stream.failure.outcome != Outcome::ok)
      return stream.failure;
    if (reply.failure == http::Failure::transfer) {
      Attempt a = unanswered(reply, what);
      a.established = reply.status == 200 && Clock::now() - started >= kEstablishedStream;
      return a;
    }
    if (!reply.answered())
      return unanswered(reply, what);
    if (reply.status == 410)
      return {Outcome::gone, what + ": " + http::status_error(reply.status, reply.body)};
    if (reply.status != 200)
      return http_error(reply, what);
    if (!stream.buffer.empty()) { // a last event without its newline
      std::string last = std::move(stream.buffer);
      if (!watch_line(last, stream))
        return stream.failure;
    }
    // The server ended the watch (timeoutSeconds): that is an answer too.
    last_contact = Clock::now();
    note_usable();
    return {};
  }

  // ---- state and logging -------------------------------------------------

  void note_usable(const std::string &detail = "") {
    {
      std::lock_guard lock(stats_mutex);
      stats.reachable = true;
    }
    if (!healthy) {
      healthy = true;
      spdlog::info("kubernetes: the {} {} works again{}{}", server_kind(), base_url,
                   detail.empty() ? "" : ": ", detail);
    }
  }

  void note_failure(const Attempt &a) {
    {
      std::lock_guard lock(stats_mutex);
      stats.errors++;
      stats.last_error = a.message;
      stats.reachable = false;
      stats.synced = false;
      if (healthy)
        stats.outages++;
    }
    if (healthy) {
      healthy = false;
      spdlog::warn("kubernetes: the {} {} is not usable, pod metadata will be missing or "
                   "stale until it is: {}",
                   server_kind(), base_url, a.message);
    } else {
      spdlog::debug("kubernetes: still failing: {}", a.message);
    }
  }

  void note_malformed(const std::string &why) {
    if (!malformed_warned) {
      malformed_warned = true;
      spdlog::warn("kubernetes: skipped a malformed pod ({}); further ones are logged at debug "
                   "level and counted",
                   why);
    } else {
      spdlog::debug("kubernetes: skipped a malformed pod: {}", why);
    }
  }

  static int next(int &failures) {
    int n = failures;
    failures = std::min(failures + 1, 64);
    return n;
  }

  // Our node's pods only: the field selector does that, unless something
  // between us and the API server drops it. The kubelet serves only its own
  // pods; without a node name they are all kept.
  bool ours(const PodInfo &pod) const {
    return pod.node_name == options.node_name || (kubelet() && options.node_name.empty());
  }

  // Sleeps for d, or until stop(); false when stopped.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(wait_mutex);
    return !wait_cv.wait_for(lock, d, [this] { return stop_requested.load(); });
  }

  // Sleeps the backoff for the n-th consecutive failure, at most cap; false
  // when stopped.
  bool backoff(int n, std::minstd_rand &rng,
               std::chrono::milliseconds cap = std::chrono::milliseconds::max()) {
    std::uniform_real_distribution<double> jitter(0.8, 1.2); // unsynchronised agents
    return pause(backoff_delay(
        n, options.backoff_initial,
        std::min(std::max(options.backoff_max, options.backoff_initial), cap), jitter(rng)));
  }

  void run_kubelet(std::minstd_rand &rng) {
    int failures = 0; // consecutive, sets the backoff
    while (!stop_requested) {
      try {
        Attempt a = poll_kubelet();
        if (a.outcome == Outcome::stopped)
          break;
        if (a.outcome == Outcome::ok) {
          failures = 0;
          pause(options.poll_interval);
          continue;
        }
        note_failure(a);
      } catch (const std::exception &e) { // bad_alloc and the like: keep the agent alive
        note_failure({Outcome::garbage, std::string("kubernetes client: ") + e.what()});
      }
      // Sooner than the next poll at first, never later: a kubelet that comes
      // back is seen within one poll interval.
      backoff(next(failures), rng, options.poll_interval);
    }
  }

  void run() {
    std::minstd_rand rng(std::random_device{}());
    if (!http.usable()) {
      note_failure({Outcome::config, "libcurl could not be initialised"});
      return;
    }
    if (!options.tls_verify)
      spdlog::warn("kubernetes: TLS certificate verification for {} is off: the token goes to, "
                   "and pod metadata comes from, whoever answers there",
                   base_url);
    if (kubelet())
      return run_kubelet(rng);
    if (options.node_name.empty()) { // would select the unscheduled pods: a config error
      std::lock_guard lock(stats_mutex);
      stats.errors++;
      stats.last_error = "no node name configured";
      spdlog::warn("kubernetes: no node name configured, pod metadata from {} is off", base_url);
      return;
    }
    bool need_list = true;
    int failures = 0;      // consecutive, sets the backoff
    int gone_in_a_row = 0; // 410s with no event in between
    while (!stop_requested) {
      try {
        if (!need_list && Clock::now() - last_contact > kStaleAfter)
          need_list = true;
        if (need_list) {
          Attempt a = list();
          if (a.outcome == Outcome::stopped)
            break;
          if (a.outcome != Outcome::ok) {
            note_failure(a);
            backoff(next(failures), rng);
            continue;
          }
          need_list = false;
          failures = 0;
        }

        Attempt w = watch();
        switch (w.outcome) {
        case Outcome::stopped:
          return;
        case Outcome::ok:
          failures = 0;
          gone_in_a_row = 0;
          break;
        case Outcome::gone: {
          {
            std::lock_guard lock(stats_mutex);
            stats.relists_gone++;
            stats.synced = false;
          }
          spdlog::debug("kubernetes: {}; listing again", w.message);
          need_list = true;
          // A server that answers every fresh watch with 410 must not spin.
          if (gone_in_a_row++ > 0)
            backoff(gone_in_a_row - 2, rng);
          break;
        }
        default:
          if (w.established && healthy) {
            // A long-lived stream dropped: count it, retry at once. Only a
            // failing reconnect is an outage.
            std::lock_guard lock(stats_mutex);
            stats.errors++;
            stats.last_error = w.message;
            spdlog::debug("kubernetes: {}; watching again", w.message);
            break;
          }
          note_failure(w);
          // Events may have been missed for as long as the outage lasts, and
          // a fresh list is what tells that the server works again: list.
          need_list = true;
          backoff(next(failures), rng);
          break;
        }
      } catch (const std::exception &e) { // bad_alloc and the like: keep the agent alive
        note_failure({Outcome::garbage, std::string("kubernetes client: ") + e.what()});
        need_list = true;
        backoff(next(failures), rng);
      }
    }
  }
};

KubeClient::KubeClient(KubeClientOptions options, PodCache &cache)
    : impl_(new Impl(std::move(options), cache)) {}

KubeClient::~KubeClient() {
  stop();
}

void KubeClient::start() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (impl_->thread.joinable())
    return;
  impl_->stop_requested = false;
  impl_->http.resume();
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void KubeClient::stop() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (!impl_->thread.joinable())
    return;
  {
    std::lock_guard wait_lock(impl_->wait_mutex);
    impl_->stop_requested = true;
  }
  impl_->wait_cv.notify_all();
  impl_->http.stop();
  impl_->thread.join();
}

KubeClientStats KubeClient::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

} // namespace shimwatch
