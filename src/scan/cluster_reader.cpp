#include "scan/cluster_reader.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>

#include "scan/manifest_loader.hpp"
#include "shimwatch/version.hpp"

namespace shimwatch::scan {

namespace {

using nlohmann::json;

constexpr size_t kMaxBody = size_t{256} << 20; // one page of a list
constexpr int kPageSize = 500;

size_t on_body(char *data, size_t size, size_t count, void *user) {
  auto *body = static_cast<std::string *>(user);
  size_t length = size * count;
  if (body->size() + length > kMaxBody)
    return 0; // curl fails the transfer with CURLE_WRITE_ERROR
  body->append(data, length);
  return length;
}

Result<std::string> read_token_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{"cannot read the token file " + path + ": " + std::strerror(errno), errno};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  auto end = token.find_last_not_of(" \t\r\n");
  token.erase(end == std::string::npos ? 0 : end + 1);
  token.erase(0, token.find_first_not_of(" \t\r\n") == std::string::npos
                     ? token.size()
                     : token.find_first_not_of(" \t\r\n"));
  if (token.empty())
    return Error{"the token file " + path + " is empty"};
  return token;
}

std::string status_message(const std::string &body) {
  json status = json::parse(body, nullptr, false);
  if (status.is_object() && status.contains("message") && status["message"].is_string())
    return status["message"].get<std::string>();
  std::string excerpt = body.substr(0, 200);
  for (char &c : excerpt)
    if (c < 0x20 || c > 0x7e)
      c = ' ';
  return excerpt.empty() ? "empty body" : excerpt;
}

void set_blob(CURL *curl, CURLoption option, const std::string &data) {
  curl_blob blob{const_cast<char *>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

Result<std::string> api_get(const ClusterAccess &access, const std::string &path) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl)
    return Error{"cannot initialise libcurl"};
  std::string token = access.token;
  if (token.empty() && !access.token_file.empty()) {
    auto from_file = read_token_file(access.token_file);
    if (!from_file)
      return from_file.error();
    token = *from_file;
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Accept: application/json"), &curl_slist_free_all);
  // Never over plain HTTP: anyone on the path could take the token.
  if (!token.empty() && !access.server.starts_with("http://"))
    headers.reset(curl_slist_append(headers.release(), ("Authorization: Bearer " + token).c_str()));

  std::string server = access.server;
  while (!server.empty() && server.back() == '/')
    server.pop_back();
  std::string url = server + path, body, agent = "shimwatch/" + std::string(version());
  char error[CURL_ERROR_SIZE] = {};
  CURL *c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  if (access.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!access.ca_data.empty()) {
    set_blob(c, CURLOPT_CAINFO_BLOB, access.ca_data);
  } else if (!access.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, access.ca_file.c_str());
  }
  if (!access.client_cert_data.empty())
    set_blob(c, CURLOPT_SSLCERT_BLOB, access.client_cert_data);
  else if (!access.client_cert_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLCERT, access.client_cert_file.c_str());
  if (!access.client_key_data.empty())
    set_blob(c, CURLOPT_SSLKEY_BLOB, access.client_key_data);
  else if (!access.client_key_file.empty())
    curl_easy_setopt(c, CURLOPT_SSLKEY, access.client_key_file.c_str());

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    return Error{"GET " + url + ": " + (error[0] ? error : curl_easy_strerror(rc))};
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200)
    return Error{"GET " + url + ": HTTP " + std::to_string(status) + ": " + status_message(body),
                 static_cast<int>(status)};
  return body;
}

std::string escape(const std::string &text) {
  std::string out;
  static const char *hex = "0123456789ABCDEF";
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

} // namespace

ApiGet make_api_get(const ClusterAccess &access) {
  return [access](const std::string &path) { return api_get(access, path); };
}

const std::vector<ListedResource> &listed_resources() {
  static const std::vector<ListedResource> resources = {
      {"Pod", "/api/v1", "pods"},
      {"Deployment", "/apis/apps/v1", "deployments"},
      {"ReplicaSet", "/apis/apps/v1", "replicasets"},
      {"DaemonSet", "/apis/apps/v1", "daemonsets"},
      {"StatefulSet", "/apis/apps/v1", "statefulsets"},
      {"Job", "/apis/batch/v1", "jobs"},
      {"CronJob", "/apis/batch/v1", "cronjobs"},
  };
  return resources;
}

Result<std::vector<ScanObject>> list_cluster_objects(const ApiGet &get,
                                                     const std::string &namespace_name,
                                                     std::vector<InputError> &errors) {
  std::vector<ScanObject> objects;
  size_t failed = 0;
  std::string first_error;
  for (const auto &resource : listed_resources()) {
    std::string base = resource.api_path +
                       (namespace_name.empty() ? "" : "/namespaces/" + escape(namespace_name)) +
                       "/" + resource.plural;
    std::string continue_token;
    std::vector<ScanObject> listed;
    std::optional<Error> failure;
    do {
      std::string path = base + "?limit=" + std::to_string(kPageSize);
      if (!continue_token.empty())
        path += "&continue=" + escape(continue_token);
      auto body = get(path);
      if (!body) {
        failure = body.error();
        break;
      }
      json page = json::parse(*body, nullptr, false);
      if (!page.is_object() || !page.contains("items")) {
        failure = Error{"GET " + path + ": the answer is not a " + resource.kind + "List"};
        break;
      }
      // Items of a typed list carry no kind; give them theirs.
      json list = {{"kind", resource.kind + "List"}, {"items", page["items"]}};
      if (list["items"].is_null())
        list["items"] = json::array();
      add_object(std::move(list), SourceRef{}, false, listed);
      continue_token.clear();
      if (page.contains("metadata") && page["metadata"].is_object())
        continue_token = page["metadata"].value("continue", "");
    } while (!continue_token.empty());
    if (failure) {
      ++failed;
      if (first_error.empty())
        first_error = failure->message;
      errors.push_back({base, 0, 0, failure->message});
      continue;
    }
    for (auto &object : listed)
      objects.push_back(std::move(object));
  }
  if (failed == listed_resources().size())
    return Error{first_error};
  return objects;
}

} // namespace shimwatch::scan
