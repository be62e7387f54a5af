// http: GETs to the Kubernetes API server and the kubelet, for the agent's
// pod list and watch and for `shimwatch scan`'s cluster reader: TLS settings,
// the bearer token (and where it is never sent), body limits, paged lists,
// streamed answers, interruption and the text of errors, in one place.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "shimwatch/result.hpp"

namespace shimwatch::http {

// The most a whole answer may hold (one page of a list): a server that sends
// more is cut off rather than allowed to fill the memory.
inline constexpr size_t kMaxBody = size_t{256} << 20;
// The most kept of the body of an error answer to a streamed request.
inline constexpr size_t kMaxErrorBody = size_t{64} << 10;
// Items per page of a paged list (limit=).
inline constexpr long kPageSize = 500;

// Where a server is and how to talk to it.
struct Endpoint {
  std::string url;        // https://HOST:PORT; trailing slashes are dropped
  std::string token;      // bearer token as given (a kubeconfig's token:)
  std::string token_file; // else read from here at each request: projected tokens rotate
  bool tls_verify = true; // false: whoever answers gets the token
  std::string ca_file;    // CA bundle for the server's certificate
  std::string ca_pem;     // or the bundle itself (wins over ca_file)
  std::string client_cert_file;
  std::string client_cert_pem; // wins over client_cert_file
  std::string client_key_file;
  std::string client_key_pem; // wins over client_key_file
  std::chrono::milliseconds connect_timeout{5000};
};

// http:// in any case. A bearer token is never sent there: anyone on the path
// could take it (a proxy such as `kubectl proxy` on loopback adds its own
// credentials).
bool is_plain_http(std::string_view url);

// The token a file holds, without surrounding white space. An Error when the
// file cannot be read, is empty, or holds more than one line.
Result<std::string> read_token_file(const std::string &path);

// Percent-encoding of all but RFC 3986's unreserved characters, for a value
// in a query (a field selector, a continue token) or a path segment.
std::string escape(std::string_view text);

// Printable (other bytes as '?'), without trailing white space, at most limit
// characters and "..." when cut: what a server sent, fit for a message.
std::string excerpt(std::string_view text, size_t limit = 80);

// "HTTP 403: <message>": the message of a metav1.Status body, or an excerpt
// of whatever the body is. The kubelet answers in plain text, and its 403
// names the missing permission ("Forbidden (user=..., verb=get,
// resource=nodes, subresource=proxy)"): room enough for that.
std::string status_error(long status, const std::string &body);

// path with limit=kPageSize and, after the first page, continue=token added
// to its query.
std::string page_path(const std::string &path, const std::string &continue_token);

enum class Failure {
  none,      // an HTTP answer, of any status
  stopped,   // Client::stop()
  token,     // the token file cannot be read
  transfer,  // no complete answer: connect, TLS, reset, timeout
  too_large, // the body is larger than allowed
  refused,   // the caller's reader refused what came (a stream's data, a list's page)
};

struct Reply {
  Failure failure = Failure::none;
  std::string error; // when failure is not none: what went wrong (no URL, never the token)
  long status = 0;   // the HTTP status; 0 without an answer
  // get(): the body. stream(): the body of an answer other than 200 (its
  // first kMaxErrorBody bytes). list(): that of the answer that ended it.
  std::string body;
  bool answered() const { return failure == Failure::none; }
};

// What a streamed GET does with its answer.
struct StreamReader {
  // Once, when the status line and headers are in.
  std::function<void(long status)> on_headers;
  // The body of a 200 answer, piece by piece as it arrives; false aborts the
  // transfer (Failure::refused).
  std::function<bool(std::string_view data)> on_data;
};

// A list page's body -> its continue token (empty on the last page), or an
// Error that ends the list (Failure::refused, the Error's message).
using PageReader = std::function<Result<std::string>(const std::string &body)>;

// One connection's worth of GETs to one endpoint, one at a time (libcurl; the
// connection and TLS session are reused). Every transfer can be interrupted
// at once from another thread by stop().
class Client {
public:
  explicit Client(Endpoint endpoint);
  ~Client();
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;

  // False when libcurl could not be initialised: every request then fails.
  bool usable() const;
  // The endpoint's URL without trailing slashes; paths are appended to it.
  const std::string &base_url() const { return base_url_; }

  // A GET of base_url() + path (with its query), whole body in the reply, up
  // to max_body bytes.
  Reply get(const std::string &path, std::chrono::milliseconds timeout, size_t max_body = kMaxBody);

  // A GET whose answer goes to reader as it arrives (a watch stream).
  Reply stream(const std::string &path, std::chrono::milliseconds timeout,
               const StreamReader &reader);

  // A paged list (limit, continue): each page's 200 answer goes to
  // read_page. A later page answered 410 Gone (its continue token expired)
  // starts the list over, at most three times, after on_restart. Ends with
  // the first failure or answer other than 200 (returned as it is), or with
  // status 200 after the last page. timeout applies to each page.
  Reply list(const std::string &path, std::chrono::milliseconds timeout,
             const PageReader &read_page, const std::function<void()> &on_restart = {});

  // From any thread: ends the transfer in flight, and fails the ones after
  // (Failure::stopped) until resume().
  void stop();
  void resume();

private:
  struct Transfer;
  Reply perform(const std::string &path, std::chrono::milliseconds timeout, Transfer &transfer);

  struct Handles;
  const Endpoint endpoint_;
  const std::string base_url_;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<Handles> handles_;
};

} // namespace shimwatch::http
