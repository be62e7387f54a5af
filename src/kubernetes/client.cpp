// KubeClient: this node's pods from the API server (list + watch) or from the
// kubelet (polls of /pods), on its own thread, with libcurl.
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
// Each transfer is an easy handle driven by a private multi handle so that
// stop() can interrupt curl_multi_poll at once with curl_multi_wakeup (an
// easy_perform only looks at its progress callback about once a second when
// nothing moves); the progress callback aborts the transfer as well.
//
// Logging: one warning when the server stops being usable (an outage),
// one info line when it works again, details at debug level. The token never
// leaves the Authorization header.
#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "shimwatch/kubernetes.hpp"
#include "shimwatch/version.hpp"

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

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxListBody = size_t{256} << 20; // one page of a pod list
constexpr size_t kMaxEventLine = size_t{16} << 20; // one watch event
constexpr size_t kMaxErrorBody = size_t{64} << 10; // a Status object explaining an error
constexpr long kPageSize = 500;
// Without a usable answer for this long, the resourceVersion has probably
// been compacted away: list again instead of watching from it.
constexpr auto kStaleAfter = std::chrono::seconds(60);
// A watch stream that breaks after this long is a dropped connection (API
// server restart, load balancer idle timeout): retry at once, no outage yet.
constexpr auto kEstablishedStream = std::chrono::seconds(1);
// The server ends watches after timeoutSeconds; this much later the stream is
// taken for a half-open connection.
constexpr auto kWatchGrace = std::chrono::seconds(60);

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Printable, bounded excerpt of what the server sent, for error messages.
std::string excerpt(std::string_view text, size_t limit = 80) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  std::string out;
  for (char c : text.substr(0, limit))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > limit)
    out += "...";
  return out;
}

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

// The message of a metav1.Status body, or an excerpt of whatever it is.
// The kubelet answers in plain text, and its 403 names the missing
// permission ("Forbidden (user=..., verb=get, resource=nodes,
// subresource=proxy)"): room enough for that.
std::string status_message(const std::string &body) {
  json status = json::parse(body, nullptr, false);
  std::string message = string_at(status, "message");
  if (!message.empty())
    return excerpt(message, 300);
  return body.empty() ? std::string("empty body") : excerpt(body, 200);
}

Result<std::string> read_token(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{"cannot read the token file " + path + ": " + std::strerror(errno), errno};
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string token = buf.str();
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!token.empty() && is_space(token.back()))
    token.pop_back();
  token.erase(0, std::find_if_not(token.begin(), token.end(), is_space) - token.begin());
  if (token.empty())
    return Error{"the token file " + path + " is empty"};
  if (token.find_first_of("\r\n") != std::string::npos)
    return Error{"the token file " + path + " holds more than one line"};
  return token;
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

} // namespace

struct KubeClient::Impl {
  KubeClientOptions options;
  PodCache &cache;
  std::string base_url;

  std::mutex lifecycle_mutex; // start/stop
  std::thread thread;
  std::mutex wait_mutex; // backoff sleeps
  std::condition_variable wait_cv;
  std::atomic<bool> stop_requested{false};

  CURLM *multi = nullptr; // lives as long as Impl, so stop() can always wake it
  CURL *easy = nullptr;   // reused: keeps the connection and TLS session
  char curl_error[CURL_ERROR_SIZE] = {};

  mutable std::mutex stats_mutex;
  KubeClientStats stats;

  // Worker thread only.
  std::string resource_version;
  bool healthy = true; // false during an outage
  bool ever_synced = false;
  bool malformed_warned = false;
  Clock::time_point last_contact = Clock::now();

  Impl(KubeClientOptions o, PodCache &c) : options(std::move(o)), cache(c) {
    global_init();
    base_url = kubelet() ? options.kubelet_url : options.api_server;
    while (!base_url.empty() && base_url.back() == '/')
      base_url.pop_back();
    multi = curl_multi_init();
    easy = curl_easy_init();
  }

  ~Impl() {
    if (easy)
      curl_easy_cleanup(easy);
    if (multi)
      curl_multi_cleanup(multi);
  }

  bool kubelet() const { return options.source == KubeSource::kubelet; }
  const char *server_kind() const { return kubelet() ? "kubelet" : "API server"; }

  // ---- transfers ---------------------------------------------------------

  std::string escape(const std::string &s) {
    char *e = curl_easy_escape(easy, s.c_str(), static_cast<int>(s.size()));
    std::string out = e ? e : "";
    curl_free(e);
    return out;
  }

  std::string pods_url() {
    return base_url + "/api/v1/pods?fieldSelector=" + escape("spec.nodeName=" + options.node_name);
  }

  static int on_progress(void *self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Impl *>(self)->stop_requested.load() ? 1 : 0;
  }

  // Sets up `easy` for a GET of url. The headers list must outlive the transfer.
  void setup(const std::string &url, curl_slist *headers, bool watch) {
    curl_easy_reset(easy);
    curl_error[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    std::string agent = "shimwatch/" + std::string(version());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, agent.c_str()); // copied by curl
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
    if (!options.tls_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!options.ca_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    auto total = watch ? std::chrono::duration_cast<std::chrono::milliseconds>(
                             options.watch_timeout + kWatchGrace)
                       : options.request_timeout;
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
  }

  // Authorization + Accept headers, with the token as the file holds it now.
  // Never over plain HTTP: anyone on the path could take the token (a proxy
  // such as `kubectl proxy` on loopback adds its own credentials).
  Result<curl_slist *> make_headers() {
    curl_slist *headers = curl_slist_append(nullptr, "Accept: application/json");
    const std::string &url =
        options.source == KubeSource::kubelet ? options.kubelet_url : options.api_server;
    if (!options.token_file.empty() && !url.starts_with("http://")) {
      auto token = read_token(options.token_file);
      if (!token) {
        curl_slist_free_all(headers);
        return token.error();
      }
      std::string line = "Authorization: Bearer " + *token;
      headers = curl_slist_append(headers, line.c_str());
    }
    return headers;
  }

  // Runs the transfer set up on `easy` until it ends or stop() is called.
  CURLcode perform() {
    if (curl_multi_add_handle(multi, easy) != CURLM_OK)
      return CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    while (true) {
      if (stop_requested) {
        result = CURLE_ABORTED_BY_CALLBACK;
        break;
      }
      int running = 0;
      if (curl_multi_perform(multi, &running) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      bool done = false;
      int left = 0;
      while (CURLMsg *msg = curl_multi_info_read(multi, &left))
        if (msg->msg == CURLMSG_DONE) {
          result = msg->data.result;
          done = true;
        }
      if (done)
        break;
      if (running == 0) { // cannot happen without a DONE message; never spin
        result = CURLE_FAILED_INIT;
        break;
      }
      if (curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
    }
    curl_multi_remove_handle(multi, easy);
    return result;
  }

  long response_code() {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }

  std::string curl_message(CURLcode rc) const {
    std::string m = curl_error[0] ? curl_error : curl_easy_strerror(rc);
    return m;
  }

  // ---- list --------------------------------------------------------------

  struct Body {
    std::string data;
    bool overflow = false;
  };

  static size_t on_body(char *ptr, size_t size, size_t n, void *userdata) {
    auto *body = static_cast<Body *>(userdata);
    size_t len = size * n;
    if (body->data.size() + len > kMaxListBody) {
      body->overflow = true;
      return 0;
    }
    try {
      body->data.append(ptr, len);
    } catch (...) {
      body->overflow = true;
      return 0;
    }
    return len;
  }

  // A GET of url into body. ok means an HTTP answer, of any status: the
  // caller judges it.
  Attempt get(const std::string &url, const std::string &what, Body &body, long &status) {
    auto headers = make_headers();
    if (!headers)
      return {Outcome::config, headers.error().message};
    setup(url, *headers, false);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    CURLcode rc = perform();
    curl_slist_free_all(*headers);
    if (stop_requested)
      return {Outcome::stopped, "stopped"};
    status = response_code();
    if (body.overflow)
      return {Outcome::garbage,
              "the pod list is larger than " + std::to_string(kMaxListBody >> 20) + " MiB"};
    if (rc != CURLE_OK)
      return {Outcome::connection, what + ": " + curl_message(rc)};
    return {};
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
    int restarts = 0;
    while (true) {
      std::string url = pods_url() + "&limit=" + std::to_string(kPageSize);
      if (!meta.continue_token.empty())
        url += "&continue=" + escape(meta.continue_token);
      Body body;
      long status = 0;
      if (Attempt a = get(url, what, body, status); a.outcome != Outcome::ok)
        return a;
      if (status == 410 && !meta.continue_token.empty() && restarts++ < 3) {
        // The continue token expired between pages: start over.
        pods.clear();
        malformed = 0;
        meta = {};
        continue;
      }
      if (status != 200)
        return {Outcome::http,
                what + ": HTTP " + std::to_string(status) + ": " + status_message(body.data)};
      if (Attempt a = read_pod_list(body.data, what, pods, malformed, meta);
          a.outcome != Outcome::ok)
        return a;
      if (meta.resource_version.empty())
        return {Outcome::garbage, what + ": the PodList has no resourceVersion"};
      if (meta.continue_token.empty())
        break;
    }
    resource_version = meta.resource_version;
    commit_list(std::move(pods), malformed, resource_version);
    return {};
  }

  // The kubelet answers /pods with all of its pods at once, no paging.
  Attempt poll_kubelet() {
    const std::string what = "listing the kubelet's pods";
    Body body;
    long status = 0;
    if (Attempt a = get(base_url + "/pods", what, body, status); a.outcome != Outcome::ok)
      return a;
    if (status != 200)
      return {Outcome::http,
              what + ": HTTP " + std::to_string(status) + ": " + status_message(body.data)};
    std::vector<PodInfo> pods;
    uint64_t malformed = 0;
    ListMeta meta;
    if (Attempt a = read_pod_list(body.data, what, pods, malformed, meta); a.outcome != Outcome::ok)
      return a;
    commit_list(std::move(pods), malformed, "");
    return {};
  }

  // ---- watch -------------------------------------------------------------

  struct WatchStream {
    Impl *impl = nullptr;
    long status = 0;
    bool counted = false;
    std::string buffer;     // bytes after the last complete line
    std::string error_body; // the body of a non-200 answer
    Attempt failure;        // set when a line ended the stream
    bool got_event = false;
  };

  static size_t on_watch_header(char *ptr, size_t size, size_t n, void *userdata) {
    auto *stream = static_cast<WatchStream *>(userdata);
    std::string_view line(ptr, size * n);
    if ((line == "\r\n" || line == "\n") && !stream->counted) {
      if (stream->impl->response_code() == 200) {
        stream->counted = true;
        std::lock_guard lock(stream->impl->stats_mutex);
        stream->impl->stats.watches++;
      }
    }
    return size * n;
  }

  static size_t on_watch_data(char *ptr, size_t size, size_t n, void *userdata) {
    auto *stream = static_cast<WatchStream *>(userdata);
    size_t len = size * n;
    try {
      if (stream->status == 0)
        stream->status = stream->impl->response_code();
      if (stream->status != 200) {
        size_t room = kMaxErrorBody - std::min(kMaxErrorBody, stream->error_body.size());
        stream->error_body.append(ptr, std::min(room, len));
        return len;
      }
      stream->buffer.append(ptr, len);
      // Complete lines only; a line may span several callbacks.
      size_t start = 0;
      while (true) {
        size_t nl = stream->buffer.find('\n', start);
        if (nl == std::string::npos)
          break;
        std::string_view line(stream->buffer.data() + start, nl - start);
        start = nl + 1;
        if (!stream->impl->watch_line(line, *stream))
          return 0; // aborts the transfer; stream->failure says why
      }
      stream->buffer.erase(0, start);
      if (stream->buffer.size() > kMaxEventLine) {
        stream->failure = {Outcome::garbage, "a watch event is larger than " +
                                                 std::to_string(kMaxEventLine >> 20) + " MiB"};
        return 0;
      }
      return len;
    } catch (const std::exception &e) {
      stream->failure = {Outcome::garbage, std::string("watch stream: ") + e.what()};
      return 0;
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
    std::string url =
        pods_url() + "&watch=1&resourceVersion=" + escape(resource_version) +
        "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(options.watch_timeout.count());
    auto headers = make_headers();
    if (!headers)
      return {Outcome::config, headers.error().message};
    WatchStream stream;
    stream.impl = this;
    setup(url, *headers, true);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_watch_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &stream);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::on_watch_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &stream);
    auto started = Clock::now();
    CURLcode rc = perform();
    curl_slist_free_all(*headers);
    if (stop_requested)
      return {Outcome::stopped, "stopped"};
    if (stream.failure.outcome != Outcome::ok)
      return stream.failure;
    long status = stream.status ? stream.status : response_code();
    if (rc != CURLE_OK) {
      Attempt a{Outcome::connection, "watching pods: " + curl_message(rc)};
      a.established = status == 200 && Clock::now() - started >= kEstablishedStream;
      return a;
    }
    if (status == 410)
      return {Outcome::gone, "watching pods: HTTP 410: " + status_message(stream.error_body)};
    if (status != 200)
      return {Outcome::http, "watching pods: HTTP " + std::to_string(status) + ": " +
                                 status_message(stream.error_body)};
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
    if (!multi || !easy) {
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
  if (impl_->multi)
    curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
}

KubeClientStats KubeClient::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

} // namespace shimwatch
