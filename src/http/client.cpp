// Client: libcurl behind the http stage's header.
//
// Each transfer is the one easy handle (kept: it holds the connection and the
// TLS session) driven by a private multi handle, so that stop() can interrupt
// curl_multi_poll at once with curl_multi_wakeup: an easy_perform looks at
// its progress callback only about once a second when nothing moves. The
// progress callback aborts the transfer as well.
#include "shimwatch/http.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "shimwatch/version.hpp"

namespace shimwatch::http {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

void set_blob(CURL *easy, CURLoption option, const std::string &data) {
  curl_blob blob{const_cast<char *>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(easy, option, &blob);
}

Reply failed(Failure failure, std::string error) {
  Reply reply;
  reply.failure = failure;
  reply.error = std::move(error);
  return reply;
}

std::string size_text(size_t bytes) {
  constexpr size_t mib = size_t{1} << 20;
  return bytes % mib == 0 ? std::to_string(bytes / mib) + " MiB" : std::to_string(bytes) + " bytes";
}

} // namespace

bool is_plain_http(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  return url.size() >= scheme.size() &&
         std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

Result<std::string> read_token_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{"cannot read the token file " + path + ": " + std::strerror(errno), errno};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!token.empty() && is_space(token.back()))
    token.pop_back();
  token.erase(0, std::find_if_not(token.begin(), token.end(), is_space) - token.begin());
  if (token.empty())
    return Error{"the token file " + path + " is empty"};
  // A line break would end the Authorization header and start another one.
  if (token.find_first_of("\r\n") != std::string::npos)
    return Error{"the token file " + path + " holds more than one line"};
  return token;
}

std::string escape(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string excerpt(std::string_view text, size_t limit) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  std::string out;
  for (char c : text.substr(0, limit))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > limit)
    out += "...";
  return out;
}

std::string status_error(long status, const std::string &body) {
  std::string text = "HTTP " + std::to_string(status) + ": ";
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    auto message = parsed.find("message");
    if (message != parsed.end() && message->is_string() &&
        !message->get_ref<const std::string &>().empty())
      return text + excerpt(message->get_ref<const std::string &>(), 300);
  }
  return text + (body.empty() ? std::string("empty body") : excerpt(body, 200));
}

std::string page_path(const std::string &path, const std::string &continue_token) {
  std::string out = path + (path.find('?') == std::string::npos ? '?' : '&') +
                    "limit=" + std::to_string(kPageSize);
  if (!continue_token.empty())
    out += "&continue=" + escape(continue_token);
  return out;
}

struct Client::Handles {
  CURLM *multi = curl_multi_init(); // lives as long as the client, so stop() can always wake it
  CURL *easy = curl_easy_init();
  char error[CURL_ERROR_SIZE] = {};

  ~Handles() {
    if (easy)
      curl_easy_cleanup(easy);
    if (multi)
      curl_multi_cleanup(multi);
  }
};

// What one transfer does with the answer, and what became of it.
struct Client::Transfer {
  CURL *easy = nullptr;
  const std::atomic<bool> *stopped = nullptr;
  const StreamReader *reader = nullptr; // null: the whole body into body
  size_t max_body = kMaxBody;
  long status = 0; // known once the headers are in
  bool headers_done = false;
  bool too_large = false;
  bool refused = false;
  std::string refusal; // why, when the reader threw
  std::string body;

  long response_code() const {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }

  static size_t on_header(char *data, size_t size, size_t count, void *user) {
    auto *transfer = static_cast<Transfer *>(user);
    const size_t length = size * count;
    std::string_view line(data, length);
    if (line != "\r\n" && line != "\n")
      return length;
    const long code = transfer->response_code();
    if (code < 200 || transfer->headers_done) // 1xx: the real answer follows
      return length;
    transfer->headers_done = true;
    transfer->status = code;
    if (transfer->reader && transfer->reader->on_headers) {
      try {
        transfer->reader->on_headers(code);
      } catch (const std::exception &e) {
        transfer->refused = true;
        transfer->refusal = e.what();
        return 0;
      }
    }
    return length;
  }

  static size_t on_body(char *data, size_t size, size_t count, void *user) {
    auto *transfer = static_cast<Transfer *>(user);
    const size_t length = size * count;
    if (transfer->status == 0)
      transfer->status = transfer->response_code();
    try {
      if (transfer->reader && transfer->status == 200) {
        if (transfer->reader->on_data && !transfer->reader->on_data({data, length})) {
          transfer->refused = true;
          return 0;
        }
        return length;
      }
      if (transfer->reader) { // an error answer: keep what explains it
        size_t room = kMaxErrorBody - std::min(kMaxErrorBody, transfer->body.size());
        transfer->body.append(data, std::min(room, length));
        return length;
      }
      if (transfer->body.size() + length > transfer->max_body) {
        transfer->too_large = true;
        return 0;
      }
      transfer->body.append(data, length);
      return length;
    } catch (const std::bad_alloc &) {
      transfer->too_large = !transfer->reader;
      transfer->refused = transfer->reader != nullptr;
      transfer->refusal = "out of memory";
      return 0;
    } catch (const std::exception &e) {
      transfer->refused = true;
      transfer->refusal = e.what();
      return 0;
    }
  }

  static int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Transfer *>(user)->stopped->load() ? 1 : 0;
  }
};

Client::Client(Endpoint endpoint)
    : endpoint_(std::move(endpoint)), base_url_(without_trailing_slashes(endpoint_.url)),
      handles_((global_init(), std::make_unique<Handles>())) {}

Client::~Client() = default;

bool Client::usable() const {
  return handles_->multi && handles_->easy;
}

void Client::stop() {
  stopped_ = true;
  if (handles_->multi)
    curl_multi_wakeup(handles_->multi);
}

void Client::resume() {
  stopped_ = false;
}

Reply Client::perform(const std::string &path, std::chrono::milliseconds timeout,
                      Transfer &transfer) {
  if (stopped_)
    return failed(Failure::stopped, "stopped");
  if (!usable())
    return failed(Failure::transfer, "libcurl could not be initialised");

  // Accept, and Authorization with the token as it is now; never over plain
  // HTTP.
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Accept: application/json"), &curl_slist_free_all);
  if (!is_plain_http(endpoint_.url)) {
    std::string token = endpoint_.token;
    if (token.empty() && !endpoint_.token_file.empty()) {
      auto from_file = read_token_file(endpoint_.token_file);
      if (!from_file)
        return failed(Failure::token, from_file.error().message);
      token = std::move(*from_file);
    }
    if (!token.empty())
      headers.reset(
          curl_slist_append(headers.release(), ("Authorization: Bearer " + token).c_str()));
  }

  CURL *easy = handles_->easy;
  curl_easy_reset(easy);
  handles_->error[0] = '\0';
  const std::string url = base_url_ + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  const std::string agent = "shimwatch/" + std::string(version());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, agent.c_str()); // copied by curl
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, handles_->error);
  if (!endpoint_.tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!endpoint_.ca_pem.empty()) {
    set_blob(easy, CURLOPT_CAINFO_BLOB, endpoint_.ca_pem);
  } else if (!endpoint_.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
  }
  if (!endpoint_.client_cert_pem.empty())
    set_blob(easy, CURLOPT_SSLCERT_BLOB, endpoint_.client_cert_pem);
  else if (!endpoint_.client_cert_file.empty())
    curl_easy_setopt(easy, CURLOPT_SSLCERT, endpoint_.client_cert_file.c_str());
  if (!endpoint_.client_key_pem.empty())
    set_blob(easy, CURLOPT_SSLKEY_BLOB, endpoint_.client_key_pem);
  else if (!endpoint_.client_key_file.empty())
    curl_easy_setopt(easy, CURLOPT_SSLKEY, endpoint_.client_key_file.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(endpoint_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
  transfer.easy = easy;
  transfer.stopped = &stopped_;
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);

  // Runs the transfer until it ends or stop() is called.
  CURLM *multi = handles_->multi;
  CURLcode result = CURLE_OK;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK)
    return failed(Failure::transfer, "libcurl could not start the transfer");
  while (true) {
    if (stopped_) {
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
    while (CURLMsg *message = curl_multi_info_read(multi, &left))
      if (message->msg == CURLMSG_DONE) {
        result = message->data.result;
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

  Reply reply;
  reply.status = transfer.status ? transfer.status : transfer.response_code();
  if (stopped_) {
    reply.failure = Failure::stopped;
    reply.error = "stopped";
  } else if (transfer.too_large) {
    reply.failure = Failure::too_large;
    reply.error = "the answer is larger than " + size_text(transfer.max_body);
  } else if (transfer.refused) {
    reply.failure = Failure::refused;
    reply.error = transfer.refusal;
  } else if (result != CURLE_OK) {
    reply.failure = Failure::transfer;
    reply.error = handles_->error[0] ? handles_->error : curl_easy_strerror(result);
  }
  reply.body = std::move(transfer.body);
  return reply;
}

Reply Client::get(const std::string &path, std::chrono::milliseconds timeout, size_t max_body) {
  Transfer transfer;
  transfer.max_body = max_body;
  return perform(path, timeout, transfer);
}

Reply Client::stream(const std::string &path, std::chrono::milliseconds timeout,
                     const StreamReader &reader) {
  Transfer transfer;
  transfer.reader = &reader;
  return perform(path, timeout, transfer);
}

Reply Client::list(const std::string &path, std::chrono::milliseconds timeout,
                   const PageReader &read_page, const std::function<void()> &on_restart) {
  std::string continue_token;
  int restarts = 0;
  while (true) {
    Reply page = get(page_path(path, continue_token), timeout);
    if (!page.answered())
      return page;
    if (page.status == 410 && !continue_token.empty() && restarts++ < 3) {
      // The continue token expired between pages: start over.
      if (on_restart)
        on_restart();
      continue_token.clear();
      continue;
    }
    if (page.status != 200)
      return page;
    auto next = read_page(page.body);
    if (!next) {
      Reply refused = failed(Failure::refused, next.error().message);
      refused.status = page.status;
      return refused;
    }
    if (next->empty()) {
      page.body.clear();
      return page;
    }
    continue_token = std::move(*next);
  }
}

} // namespace shimwatch::http
