// OpenAIChatGenerator against a chat-completions endpoint on 127.0.0.1 (cpp-httplib's server, answering as
// the OpenAI API does): the request body, the answer and its citations, retries with backoff on 503 and on a
// read timeout, no retry on 401, ConnectionError when nothing listens or when the answer trickles in for
// longer than attempt_timeout, FormatError for an answer that is not a chat completion or is longer than
// max_response_bytes, bad options; a 503's Retry-After honoured; a server that closes while the request is
// still being written (no SIGPIPE, and SigpipeBlock itself); and the generator inside RAGPipeline.
#include <aimastery/llm/rag/bm25.hpp>
#include <aimastery/llm/rag/openai_chat_generator.hpp>
#include <aimastery/llm/rag/rag_pipeline.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include "support.hpp"

using namespace aimastery;

namespace {

// A chat-completions endpoint on a free loopback port; `respond` decides each answer.
class ChatServer {
 public:
  using Respond = std::function<void(int attempt, const nlohmann::json& request, httplib::Response&)>;

  explicit ChatServer(Respond respond) : respond_(std::move(respond)) {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const int attempt = ++requests_;
      {
        std::lock_guard lock(mutex_);
        last_request_ = nlohmann::json::parse(req.body);
        last_authorization_ = req.get_header_value("Authorization");
      }
      respond_(attempt, nlohmann::json::parse(req.body), res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ChatServer() {
    server_.stop();
    thread_.join();
  }
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  [[nodiscard]] int requests() const { return requests_; }
  [[nodiscard]] nlohmann::json last_request() {
    std::lock_guard lock(mutex_);
    return last_request_;
  }
  [[nodiscard]] std::string last_authorization() {
    std::lock_guard lock(mutex_);
    return last_authorization_;
  }

 private:
  Respond respond_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  nlohmann::json last_request_;
  std::string last_authorization_;
};

void answer_with(httplib::Response& res, const std::string& content) {
  const nlohmann::json body = {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"choices",
       {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}}};
  res.set_content(body.dump(), "application/json");
}

AssembledContext two_passages() {
  AssembledContext context;
  context.text = "[1] BM25 weighs terms by idf.\n\n[2] idf(t) = ln(1 + (N - n + 0.5) / (n + 0.5)).";
  context.passages.resize(2);
  context.passages[0].number = 1;
  context.passages[1].number = 2;
  return context;
}

OpenAIChatOptions fast(const std::string& base_url) {
  return {.base_url = base_url,
          .model = "test-model",
          .api_key = "sk-test",
          .connect_timeout = std::chrono::milliseconds(500),
          .read_timeout = std::chrono::milliseconds(300),
          .max_retries = 2,
          .initial_backoff = std::chrono::milliseconds(10)};
}

}  // namespace

static_assert(Generator<OpenAIChatGenerator>);

TEST_CASE("OpenAIChatGenerator: the request OpenAI's API expects, the answer and the passages it cites") {
  ChatServer server([](int, const nlohmann::json&, httplib::Response& res) {
    answer_with(res, "idf is ln(1 + (N - n + 0.5)/(n + 0.5)) [2], used by BM25 [1][2]; see also [9] and [0].");
  });
  OpenAIChatGenerator llm(fast(server.base_url()));
  CHECK(llm.endpoint() == server.base_url() + "/chat/completions");
  const GeneratedAnswer a = llm.generate("how is idf computed?", two_passages());
  CHECK(a.text.starts_with("idf is ln("));
  CHECK(a.cited == std::vector<Index>{1, 2});  // [9] and [0] are no passage of the context
  const nlohmann::json request = server.last_request();
  CHECK(request["model"] == "test-model");
  CHECK(request["stream"] == false);
  CHECK(request["temperature"] == 0.0);
  CHECK(request["max_tokens"] == 512);
  REQUIRE(request["messages"].size() == 2);
  CHECK(request["messages"][0]["role"] == "system");
  CHECK(request["messages"][1]["role"] == "user");
  const std::string user = request["messages"][1]["content"];
  CHECK(user.find("[2] idf(t) = ln(1 + (N - n + 0.5) / (n + 0.5)).") != std::string::npos);
  CHECK(user.ends_with("Question: how is idf computed?"));
  CHECK(server.last_authorization() == "Bearer sk-test");
}

TEST_CASE("OpenAIChatGenerator: 503 and a read timeout are retried with backoff, then succeed") {
  SUBCASE("two 503 answers, then 200") {
    ChatServer server([](int attempt, const nlohmann::json&, httplib::Response& res) {
      if (attempt <= 2) {
        res.status = 503;
        res.set_content(R"({"error": {"message": "loading model"}})", "application/json");
      } else {
        answer_with(res, "BM25 [1].");
      }
    });
    OpenAIChatGenerator llm(fast(server.base_url()));
    CHECK(llm.generate("q", two_passages()).cited == std::vector<Index>{1});
    CHECK(server.requests() == 3);
  }
  SUBCASE("a 503 that asks to retry after 1 s: the retry waits that long, not the 10 ms backoff") {
    for (const auto& [header, waits] : std::vector<std::pair<std::string, bool>>{
             {"1", true}, {"120", false}, {"Fri, 31 Dec 1999 23:59:59 GMT", false}}) {
      const std::string retry_after = header;  // a lambda captures a variable, not a structured binding
      ChatServer server([retry_after](int attempt, const nlohmann::json&, httplib::Response& res) {
        if (attempt == 1) {
          res.status = 503;
          res.set_header("Retry-After", retry_after);
          res.set_content(R"({"error": {"message": "busy"}})", "application/json");
        } else {
          answer_with(res, "later [1].");
        }
      });
      OpenAIChatGenerator llm(fast(server.base_url()));
      const auto t0 = std::chrono::steady_clock::now();
      CHECK(llm.generate("q", two_passages()).text == "later [1].");
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      CAPTURE(retry_after);
      CHECK(server.requests() == 2);
      if (waits) {
        CHECK(seconds >= 1.0);
      } else {
        CHECK(seconds < 0.9);  // a date, or more than 60 s: the backoff of its own
      }
    }
  }
  SUBCASE("a first answer slower than read_timeout") {
    ChatServer server([](int attempt, const nlohmann::json&, httplib::Response& res) {
      if (attempt == 1) std::this_thread::sleep_for(std::chrono::milliseconds(700));
      answer_with(res, "fine [2]");
    });
    OpenAIChatGenerator llm(fast(server.base_url()));
    CHECK(llm.generate("q", two_passages()).text == "fine [2]");
    CHECK(server.requests() >= 2);
  }
}

TEST_CASE("OpenAIChatGenerator: failures are ConnectionError or FormatError naming the problem") {
  SUBCASE("5xx on every attempt: retried max_retries times") {
    ChatServer server([](int, const nlohmann::json&, httplib::Response& res) {
      res.status = 500;
      res.set_content(R"({"error": {"message": "out of memory"}})", "application/json");
    });
    OpenAIChatGenerator llm(fast(server.base_url()));
    CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), ConnectionError,
                        "failed after 3 attempts: HTTP 500: out of memory");
    CHECK(server.requests() == 3);
  }
  SUBCASE("401 is not retried") {
    ChatServer server([](int, const nlohmann::json&, httplib::Response& res) {
      res.status = 401;
      res.set_content(R"({"error": {"message": "invalid api key"}})", "application/json");
    });
    OpenAIChatGenerator llm(fast(server.base_url()));
    CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), ConnectionError,
                        "answered HTTP 401: invalid api key");
    CHECK(server.requests() == 1);
  }
  SUBCASE("nothing listens") {
    int port = 0;
    {
      ChatServer closed([](int, const nlohmann::json&, httplib::Response&) {});
      port = std::stoi(closed.base_url().substr(17));
    }
    OpenAIChatOptions options = fast("http://127.0.0.1:" + std::to_string(port) + "/v1");
    options.max_retries = 1;
    OpenAIChatGenerator llm(options);
    CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), ConnectionError,
                        "failed after 2 attempts: no answer");
  }
  SUBCASE("an answer that trickles in a byte at a time: each attempt ends at attempt_timeout") {
    // 200 bytes 50 ms apart: every read is well within read_timeout (300 ms), the whole would take 10 s.
    ChatServer server([](int, const nlohmann::json&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [](std::size_t offset, httplib::DataSink& sink) {
        if (offset >= 200) {
          sink.done();
          return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return sink.write(" ", 1);
      });
    });
    OpenAIChatOptions options = fast(server.base_url());
    options.attempt_timeout = std::chrono::milliseconds(400);
    options.max_retries = 1;
    OpenAIChatGenerator llm(options);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), ConnectionError,
                        "failed after 2 attempts: no answer within attempt_timeout (400 ms)");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK_MESSAGE(seconds < 3.0, "two attempts took " << seconds << " s");
    CHECK(server.requests() == 2);
  }
  SUBCASE("an answer longer than max_response_bytes is not read to its end") {
    ChatServer server(
        [](int, const nlohmann::json&, httplib::Response& res) { answer_with(res, std::string(2 << 20, 'x')); });
    OpenAIChatOptions options = fast(server.base_url());
    options.max_response_bytes = 1 << 20;
    OpenAIChatGenerator llm(options);
    CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), FormatError,
                        "exceeds max_response_bytes (1048576)");
    CHECK(server.requests() == 1);  // not retried
    options.max_response_bytes = 3 << 20;
    CHECK(OpenAIChatGenerator(options).generate("q", two_passages()).text.size() == std::size_t(2) << 20);
  }
  SUBCASE("an answer that is not a chat completion") {
    for (const std::string body : {"not json", R"({"choices": []})", R"({"choices": [{"text": "legacy"}]})",
                                   R"({"choices": [{"message": {"content": null}}]})"}) {
      ChatServer server(
          [&body](int, const nlohmann::json&, httplib::Response& res) { res.set_content(body, "application/json"); });
      OpenAIChatGenerator llm(fast(server.base_url()));
      CAPTURE(body);
      CHECK_THROWS_NAMING(static_cast<void>(llm.generate("q", two_passages())), FormatError,
                          "the server's answer is not a chat completion");
    }
  }
}

TEST_CASE("SigpipeBlock: a write to a closed socket fails with EPIPE, nothing stays pending, the mask comes back") {
  const auto sigpipe_pending = [] {
    sigset_t pending;
    REQUIRE(sigpending(&pending) == 0);
    return sigismember(&pending, SIGPIPE) == 1;
  };
  const auto sigpipe_blocked = [] {
    sigset_t mask;
    REQUIRE(pthread_sigmask(SIG_SETMASK, nullptr, &mask) == 0);
    return sigismember(&mask, SIGPIPE) == 1;
  };
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  ::close(pair[1]);
  REQUIRE_FALSE(sigpipe_blocked());
  {
    const detail::SigpipeBlock block;
    CHECK(sigpipe_blocked());
    errno = 0;
    CHECK(::send(pair[0], "x", 1, 0) == -1);  // without MSG_NOSIGNAL: SIGPIPE raised, and held
    CHECK(errno == EPIPE);
    CHECK(sigpipe_pending());
  }
  CHECK(errno == EPIPE);  // kept for the caller
  CHECK_FALSE(sigpipe_blocked());
  CHECK_FALSE(sigpipe_pending());
  // A SIGPIPE that was blocked and pending before the block is left as it was.
  sigset_t only_sigpipe, previous;
  sigemptyset(&only_sigpipe);
  sigaddset(&only_sigpipe, SIGPIPE);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &only_sigpipe, &previous) == 0);
  CHECK(::send(pair[0], "x", 1, 0) == -1);
  REQUIRE(sigpipe_pending());
  { const detail::SigpipeBlock block; }
  CHECK(sigpipe_pending());
  CHECK(sigpipe_blocked());
  const timespec no_wait{0, 0};
  CHECK(sigtimedwait(&only_sigpipe, nullptr, &no_wait) == SIGPIPE);
  REQUIRE(pthread_sigmask(SIG_SETMASK, &previous, nullptr) == 0);
  ::close(pair[0]);
}

TEST_CASE("OpenAIChatGenerator: a server that answers and closes while the request is written ends no process") {
  // The first connection gets 503 and the server's FIN as soon as the head is in, then a reset (it closes
  // with the body unread): the client's next write fails with EPIPE, which raises SIGPIPE in the writing
  // thread unless it is blocked. The second connection is answered. A process killed by SIGPIPE fails the
  // test program.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 8) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  std::atomic<int> connections{0};
  std::thread server([&] {
    const auto read_head = [](int fd) {
      std::string head;
      char byte = 0;
      while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &byte, 1, 0) == 1) head += byte;
      return head;
    };
    const auto send_all = [](int fd, const std::string& bytes) {
      (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    };
    {
      const int first = ::accept(listener, nullptr, nullptr);
      connections.fetch_add(1);
      (void)read_head(first);
      send_all(first, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      ::shutdown(first, SHUT_WR);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the client sees the FIN, goes on writing
      ::close(first);                                               // the unread body: a reset
    }
    const int second = ::accept(listener, nullptr, nullptr);
    connections.fetch_add(1);
    const std::string head = read_head(second);
    const std::size_t at = head.find("Content-Length: ");
    std::size_t body = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    std::vector<char> sink(1 << 16);
    while (body > 0) {
      const ssize_t n = ::recv(second, sink.data(), std::min(body, sink.size()), 0);
      if (n <= 0) break;
      body -= static_cast<std::size_t>(n);
    }
    const std::string answer =
        R"({"choices": [{"index": 0, "message": {"role": "assistant", "content": "retried [1]"}}]})";
    send_all(second, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(answer.size()) + "\r\nConnection: close\r\n\r\n" + answer);
    ::close(second);
  });
  OpenAIChatOptions options = fast("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/v1");
  options.read_timeout = std::chrono::milliseconds(2000);
  AssembledContext context = two_passages();
  context.text += std::string(8 << 20, ' ');  // far more than the socket buffers hold
  OpenAIChatGenerator llm(options);
  CHECK(llm.generate("q", context).text == "retried [1]");
  CHECK(connections.load() == 2);
  server.join();
  ::close(listener);
}

TEST_CASE("OpenAIChatGenerator: bad options are InvalidArgument") {
  const auto make = [](OpenAIChatOptions o) { return OpenAIChatGenerator(std::move(o)); };
  CHECK_THROWS_NAMING(make({.base_url = "127.0.0.1:8080/v1"}), InvalidArgument, "must start with http://");
  CHECK_THROWS_NAMING(make({.base_url = "http:///v1"}), InvalidArgument, "base_url has no host");
  CHECK_THROWS_NAMING(make({.model = ""}), InvalidArgument, "model is empty");
  CHECK_THROWS_NAMING(make({.max_tokens = 0}), InvalidArgument, "max_tokens must be at least 1");
  CHECK_THROWS_NAMING(make({.temperature = -1}), InvalidArgument, "temperature must be in [0, 2]");
  CHECK_THROWS_NAMING(make({.max_retries = -1}), InvalidArgument, "max_retries must be at least 0");
  CHECK_THROWS_NAMING(make({.read_timeout = std::chrono::milliseconds(0)}), InvalidArgument,
                      "timeouts must be positive");
  CHECK_THROWS_NAMING(make({.attempt_timeout = std::chrono::milliseconds(-1)}), InvalidArgument,
                      "timeouts must be positive");
  CHECK_THROWS_NAMING(make({.max_response_bytes = 0}), InvalidArgument, "max_response_bytes must be at least 1");
  CHECK(OpenAIChatGenerator({.base_url = "http://localhost:11434/v1/"}).endpoint() ==
        "http://localhost:11434/v1/chat/completions");
}

TEST_CASE("OpenAIChatGenerator: inside RAGPipeline, the model answers from the retrieved context") {
  std::vector<Chunk> chunks(2);
  const std::vector<std::string> texts = {"BM25 weighs terms by inverse document frequency.",
                                          "Reciprocal rank fusion merges rankings."};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    chunks[i].document_id = Document::from_source("d" + std::to_string(i), texts[i]).id;
    chunks[i].end = texts[i].size();
    chunks[i].text = texts[i];
  }
  BM25Retriever bm25;
  bm25.add(chunks);
  ChatServer server([](int, const nlohmann::json& request, httplib::Response& res) {
    const std::string user = request["messages"][1]["content"];
    answer_with(res, user.find("inverse document frequency") != std::string::npos ? "By idf [1]." : "Unknown.");
  });
  RAGPipeline pipeline(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words),
                       OpenAIChatGenerator(fast(server.base_url())), {.candidates = 2, .k = 1});
  const RAGResponse r = pipeline.query("how does BM25 weigh terms");
  CHECK(r.answer.text == "By idf [1].");
  CHECK(r.answer.cited == std::vector<Index>{1});
}
