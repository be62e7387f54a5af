// The http stage against a real HTTP server on 127.0.0.1 (a thread of this
// test answering with fixed responses): where the token goes, the body
// limit, error text, paged lists, streams and stop(). TLS and the bearer
// token over HTTPS are in tests/integration/kube_client_test.cpp and
// scan_live_test.cpp, against the stand-in API server.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "shimwatch/fd.hpp"
#include "shimwatch/http.hpp"
#include "test_files.hpp"

using namespace std::chrono_literals;
namespace http = shimwatch::http;
using shimwatch::Fd;

namespace {

// A listening TCP socket on 127.0.0.1, port chosen by the kernel.
Fd listen_loopback(int &port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!fd || bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), len) != 0 ||
      listen(fd.get(), 16) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr *>(&addr), &len) != 0)
    ADD_FAILURE() << "cannot listen on 127.0.0.1";
  port = ntohs(addr.sin_port);
  return fd;
}

std::string response(int status, const std::string &body, const std::string &headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         headers + "\r\n" + body;
}

// One request at a time: reads the request head, records it, writes what
// answer(head) returns and closes the connection.
class LocalHttpServer {
public:
  using Answer = std::function<std::string(const std::string &head)>;

  explicit LocalHttpServer(Answer answer) : answer_(std::move(answer)) {
    listener_ = listen_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalHttpServer() {
    done_ = true;
    thread_.join();
  }

  std::string url(const std::string &scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  std::vector<std::string> heads() {
    std::lock_guard lock(mutex_);
    return heads_;
  }
  // The request line of each request: "GET /path?query HTTP/1.1".
  std::vector<std::string> request_lines() {
    std::vector<std::string> lines;
    for (const auto &head : heads())
      lines.push_back(head.substr(0, head.find("\r\n")));
    return lines;
  }

private:
  void serve() {
    while (!done_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      Fd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client)
        continue;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(client.get(), buf, sizeof buf);
        if (n <= 0)
          break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        heads_.push_back(head);
      }
      std::string out = answer_(head);
      for (size_t done = 0; done < out.size();) {
        ssize_t n = send(client.get(), out.data() + done, out.size() - done, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        done += static_cast<size_t>(n);
      }
    }
  }

  Answer answer_;
  Fd listener_;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> heads_;
};

http::Endpoint endpoint(const std::string &url) {
  http::Endpoint e;
  e.url = url;
  e.connect_timeout = 2000ms;
  return e;
}

std::string pod_list_page(const std::string &name, const std::string &continue_token) {
  return R"({"kind":"PodList","metadata":{"continue":")" + continue_token + R"("},"items":[")" +
         name + R"("]})";
}

// The request target's query value of key, still escaped.
std::string query_value(const std::string &request_line, const std::string &key) {
  size_t at = request_line.find(key + "=");
  if (at == std::string::npos)
    return "(none)";
  at += key.size() + 1;
  return request_line.substr(at, request_line.find_first_of("& ", at) - at);
}

} // namespace

TEST(Http, PlainHttpIsRecognisedInAnyCase) {
  EXPECT_TRUE(http::is_plain_http("http://127.0.0.1:8001"));
  EXPECT_TRUE(http::is_plain_http("HTTP://proxy:8001"));
  EXPECT_TRUE(http::is_plain_http("Http://proxy"));
  EXPECT_FALSE(http::is_plain_http("https://127.0.0.1:6443"));
  EXPECT_FALSE(http::is_plain_http("http:/typo"));
  EXPECT_FALSE(http::is_plain_http(""));
}

TEST(Http, TheTokenIsNeverSentOverPlainHttp) {
  const std::string token = "plain-http-secret-token";
  swtest::TempFile token_file(token + "\n");
  LocalHttpServer server([](const std::string &) { return response(200, "{}"); });

  for (const char *scheme : {"http", "HTTP"}) {
    http::Endpoint given = endpoint(server.url(scheme));
    given.token = token;
    http::Endpoint from_file = endpoint(server.url(scheme));
    from_file.token_file = token_file.path();
    for (const auto &e : {given, from_file}) {
      http::Client client(e);
      http::Reply reply = client.get("/api/v1/pods", 5000ms);
      ASSERT_TRUE(reply.answered()) << reply.error;
      EXPECT_EQ(reply.status, 200);
    }
  }
  // The requests did arrive, without the token.
  ASSERT_EQ(server.heads().size(), 4u);
  for (const auto &head : server.heads()) {
    EXPECT_EQ(head.find("Authorization"), std::string::npos) << head;
    EXPECT_EQ(head.find(token), std::string::npos) << head;
    EXPECT_NE(head.find("User-Agent: shimwatch/"), std::string::npos) << head;
  }
}

TEST(Http, AnUnreadableTokenFileFailsOnlyWhereTheTokenWouldGo) {
  LocalHttpServer server([](const std::string &) { return response(200, "{}"); });
  http::Endpoint plain = endpoint(server.url());
  plain.token_file = "/nonexistent/no-such-token";
  http::Client plain_client(plain);
  EXPECT_TRUE(plain_client.get("/", 5000ms).answered()); // not read: not needed there

  // Over HTTPS it is read at each request, before any connection is made.
  http::Endpoint tls = endpoint(server.url("https"));
  tls.token_file = "/nonexistent/no-such-token";
  http::Client tls_client(tls);
  http::Reply reply = tls_client.get("/", 5000ms);
  EXPECT_EQ(reply.failure, http::Failure::token);
  EXPECT_NE(reply.error.find("cannot read the token file /nonexistent/no-such-token"),
            std::string::npos)
      << reply.error;
  EXPECT_EQ(server.heads().size(), 1u);
}

TEST(Http, TokenFiles) {
  swtest::TempFile padded_file("  \tabc.def-123\r\n\n");
  swtest::TempFile empty_file(" \n\n");
  swtest::TempFile two_lines_file("abc\nInjected: header\n");
  auto padded = http::read_token_file(padded_file.path());
  ASSERT_TRUE(padded) << padded.error().message;
  EXPECT_EQ(*padded, "abc.def-123");
  auto empty = http::read_token_file(empty_file.path());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "the token file " + empty_file.path() + " is empty");
  auto two = http::read_token_file(two_lines_file.path());
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message.find("more than one line"), std::string::npos);
  auto missing = http::read_token_file("/nonexistent/no-such-token");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errno_value, ENOENT);
}

TEST(Http, TheBodyLimitCutsOffLargerAnswers) {
  const std::string body(2000, 'x');
  LocalHttpServer server([&](const std::string &) { return response(200, body); });
  http::Client client(endpoint(server.url()));

  http::Reply fits = client.get("/", 5000ms, 2000);
  ASSERT_TRUE(fits.answered()) << fits.error;
  EXPECT_EQ(fits.body, body);

  http::Reply cut = client.get("/", 5000ms, 1999);
  EXPECT_EQ(cut.failure, http::Failure::too_large);
  EXPECT_EQ(cut.error, "the answer is larger than 1999 bytes");
}

TEST(Http, StatusErrorsSayTheStatusAndWhatTheServerSaid) {
  LocalHttpServer server([](const std::string &head) {
    if (head.starts_with("GET /status "))
      return response(403, R"({"kind":"Status","status":"Failure","message":"pods is forbidden: )"
                           R"(User \"x\" cannot list resource \"pods\"","code":403})");
    if (head.starts_with("GET /text "))
      return response(401, "Unauthorized\n\n");
    return response(500, "");
  });
  http::Client client(endpoint(server.url()));

  http::Reply forbidden = client.get("/status", 5000ms);
  ASSERT_TRUE(forbidden.answered()) << forbidden.error; // an answer: the caller judges it
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(http::status_error(forbidden.status, forbidden.body),
            "HTTP 403: pods is forbidden: User \"x\" cannot list resource \"pods\"");

  http::Reply text = client.get("/text", 5000ms);
  EXPECT_EQ(http::status_error(text.status, text.body), "HTTP 401: Unauthorized");

  http::Reply empty = client.get("/empty", 5000ms);
  EXPECT_EQ(http::status_error(empty.status, empty.body), "HTTP 500: empty body");

  // Long or binary answers are cut and made printable.
  std::string message = http::status_error(502, std::string(500, 'a') + "\x01");
  EXPECT_EQ(message, "HTTP 502: " + std::string(200, 'a') + "...");
  EXPECT_EQ(http::status_error(400, "bad\x01\xff"), "HTTP 400: bad??");
  EXPECT_EQ(http::status_error(400, R"({"message":")" + std::string(400, 'm') + R"("})"),
            "HTTP 400: " + std::string(300, 'm') + "...");
}

TEST(Http, NoAnswerIsATransferFailure) {
  int port = 0;
  { Fd closed = listen_loopback(port); } // nothing listens there any more
  http::Client client(endpoint("http://127.0.0.1:" + std::to_string(port)));
  http::Reply reply = client.get("/", 5000ms);
  EXPECT_EQ(reply.failure, http::Failure::transfer);
  EXPECT_EQ(reply.status, 0);
  EXPECT_FALSE(reply.error.empty());
}

TEST(Http, EscapeAndPagePaths) {
  EXPECT_EQ(http::escape("spec.nodeName=node-a_1~"), "spec.nodeName%3Dnode-a_1~");
  EXPECT_EQ(http::escape("a b/c&d+\xff"), "a%20b%2Fc%26d%2B%FF");
  EXPECT_EQ(http::page_path("/apis/apps/v1/deployments", ""),
            "/apis/apps/v1/deployments?limit=500");
  EXPECT_EQ(http::page_path("/api/v1/pods?fieldSelector=x", "c/1="),
            "/api/v1/pods?fieldSelector=x&limit=500&continue=c%2F1%3D");
}

TEST(Http, PagedListFollowsContinueTokens) {
  LocalHttpServer server([](const std::string &head) {
    std::string token = query_value(head.substr(0, head.find("\r\n")), "continue");
    if (token == "(none)")
      return response(200, pod_list_page("a", "next/1"));
    if (token == "next%2F1")
      return response(200, pod_list_page("b", "next/2"));
    return response(200, pod_list_page("c", ""));
  });
  http::Client client(endpoint(server.url()));
  std::vector<std::string> pages;
  http::Reply reply = client.list("/api/v1/pods?fieldSelector=x", 5000ms,
                                  [&](const std::string &body) -> shimwatch::Result<std::string> {
                                    pages.push_back(body);
                                    auto page = nlohmann::json::parse(body);
                                    return page["metadata"]["continue"].get<std::string>();
                                  });
  ASSERT_TRUE(reply.answered()) << reply.error;
  EXPECT_EQ(reply.status, 200);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_NE(pages[2].find(R"(["c"])"), std::string::npos);
  auto lines = server.request_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "GET /api/v1/pods?fieldSelector=x&limit=500 HTTP/1.1");
  EXPECT_EQ(query_value(lines[1], "continue"), "next%2F1");
  EXPECT_EQ(query_value(lines[2], "continue"), "next%2F2");
  EXPECT_EQ(query_value(lines[2], "limit"), "500");
}

TEST(Http, AnExpiredContinueTokenStartsTheListOverAtMostThreeTimes) {
  std::atomic<int> expire{1}; // how many later pages answer 410
  LocalHttpServer server([&](const std::string &head) {
    if (query_value(head.substr(0, head.find("\r\n")), "continue") == "(none)")
      return response(200, pod_list_page("a", "t"));
    if (expire > 0) {
      --expire;
      return response(410, R"({"kind":"Status","message":"continue token expired","code":410})");
    }
    return response(200, pod_list_page("b", ""));
  });
  http::Client client(endpoint(server.url()));
  int pages = 0, restarts = 0;
  auto read_page = [&](const std::string &body) -> shimwatch::Result<std::string> {
    ++pages;
    return nlohmann::json::parse(body)["metadata"]["continue"].get<std::string>();
  };
  auto restart = [&] {
    ++restarts;
    pages = 0;
  };
  http::Reply reply = client.list("/api/v1/pods", 5000ms, read_page, restart);
  ASSERT_TRUE(reply.answered()) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(pages, 2); // the first page again, then the last

  expire = 100;
  restarts = 0;
  reply = client.list("/api/v1/pods", 5000ms, read_page, restart);
  ASSERT_TRUE(reply.answered()) << reply.error;
  EXPECT_EQ(restarts, 3);
  EXPECT_EQ(reply.status, 410);
  EXPECT_EQ(http::status_error(reply.status, reply.body), "HTTP 410: continue token expired");
}

TEST(Http, APageTheReaderRefusesEndsTheList) {
  LocalHttpServer server(
      [](const std::string &) { return response(200, pod_list_page("a", "more")); });
  http::Client client(endpoint(server.url()));
  http::Reply reply = client.list("/x", 5000ms, [](const std::string &) {
    return shimwatch::Result<std::string>(shimwatch::Error{"not a PodList"});
  });
  EXPECT_EQ(reply.failure, http::Failure::refused);
  EXPECT_EQ(reply.error, "not a PodList");
  EXPECT_EQ(server.heads().size(), 1u);
}

TEST(Http, StreamsHandTheBodyOverAsItComes) {
  const std::string events = "{\"type\":\"ADDED\"}\n{\"type\":\"DELETED\"}\n";
  LocalHttpServer server([&](const std::string &head) {
    if (head.starts_with("GET /watch "))
      return response(200, events);
    return response(410, R"({"message":"too old resource version"})" + std::string(100000, ' '));
  });
  http::Client client(endpoint(server.url()));

  std::vector<long> statuses;
  std::string received;
  http::StreamReader reader;
  reader.on_headers = [&](long status) { statuses.push_back(status); };
  reader.on_data = [&](std::string_view data) {
    received.append(data);
    return true;
  };
  http::Reply reply = client.stream("/watch", 5000ms, reader);
  ASSERT_TRUE(reply.answered()) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(statuses, std::vector<long>{200});
  EXPECT_EQ(received, events);
  EXPECT_TRUE(reply.body.empty());

  // An error answer is kept for its message, not handed to the reader.
  statuses.clear();
  received.clear();
  reply = client.stream("/gone", 5000ms, reader);
  ASSERT_TRUE(reply.answered()) << reply.error;
  EXPECT_EQ(reply.status, 410);
  EXPECT_EQ(statuses, std::vector<long>{410});
  EXPECT_TRUE(received.empty());
  EXPECT_EQ(reply.body.size(), http::kMaxErrorBody);
  EXPECT_EQ(http::status_error(reply.status, reply.body), "HTTP 410: too old resource version");

  // The reader may end the stream.
  reader.on_data = [](std::string_view) { return false; };
  reply = client.stream("/watch", 5000ms, reader);
  EXPECT_EQ(reply.failure, http::Failure::refused);
}

TEST(Http, StopEndsATransferInFlightAtOnceUntilResumed) {
  // Listens, never answers: the request waits for an answer that never comes.
  int silent_port = 0;
  Fd silent = listen_loopback(silent_port);
  http::Client client(endpoint("http://127.0.0.1:" + std::to_string(silent_port)));
  http::Reply reply;
  std::thread transfer([&] {
    http::StreamReader reader;
    reply = client.stream("/watch", 60000ms, reader);
  });
  std::this_thread::sleep_for(300ms);
  auto start = std::chrono::steady_clock::now();
  client.stop();
  transfer.join();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.failure, http::Failure::stopped);
  EXPECT_LT(took, 500ms);
  EXPECT_EQ(client.get("/", 5000ms).failure, http::Failure::stopped); // until resume()

  LocalHttpServer server([](const std::string &) { return response(200, "{}"); });
  http::Client answered(endpoint(server.url()));
  answered.stop();
  EXPECT_EQ(answered.get("/", 5000ms).failure, http::Failure::stopped);
  answered.resume();
  EXPECT_TRUE(answered.get("/", 5000ms).answered());
}
