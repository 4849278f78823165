#pragma once
/// \file
/// OpenAIChatGenerator: a Generator (generator.hpp) that asks any OpenAI-compatible chat-completions server
/// (llama.cpp's `llama-server`, vLLM, Ollama, or OpenAI itself) to answer from the assembled context.
/// Needs cpp-httplib: link aimastery::httplib.
///
///   OpenAIChatGenerator llm({.base_url = "http://127.0.0.1:8080/v1", .model = "qwen2.5-1.5b-instruct"});
///   RAGPipeline pipeline(bm25, KeepRetrievalOrder{}, ContextAssembler(count_words), llm);
///   GeneratedAnswer a = pipeline.query("how is idf computed?").answer;   // a.text cites "[1]", "[2]" ...
///
/// One request per question: POST {base_url}/chat/completions with
///
///   {"model": model, "temperature": t, "max_tokens": n, "stream": false,
///    "messages": [{"role": "system", "content": system_prompt},
///                 {"role": "user", "content": "Passages:\n<context.text>\n\nQuestion: <question>"}]}
///
/// and the answer is choices[0].message.content. The passage labels [n] the answer mentions (1 ≤ n ≤ the
/// number of passages) are its citations.
///
/// Failures. A connection that cannot be made or breaks, a read that waits longer than read_timeout for
/// the next bytes, an attempt that takes longer than attempt_timeout in all (a server that trickles its
/// answer), and the answers 429 (rate limited) and 5xx are retried up to max_retries times, waiting
/// initial_backoff, then twice as long each time, or as long as the answer's Retry-After asks when that is
/// longer (whole seconds, at most 60); after the last attempt, ConnectionError naming the URL,
/// the attempts and the last failure. Another non-2xx answer (401 bad key, 404 unknown model) is not
/// retried: ConnectionError with the status and the server's error message. An answer longer than
/// max_response_bytes, or a 2xx answer that is not a chat completion: FormatError.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"
#include "aimastery/detail/sigpipe_block.hpp"
#include "aimastery/io/json.hpp"
#include "aimastery/llm/rag/context_assembler.hpp"
#include "aimastery/llm/rag/generator.hpp"

// After Eigen (through the headers above): <httplib.h> brings <resolv.h>, whose macro `_res` breaks Eigen.
#include <httplib.h>

namespace aimastery {

struct OpenAIChatOptions {
  /// The API root, up to and including "/v1": llama.cpp's server listens on :8080, vLLM on :8000, Ollama
  /// on :11434 (each under /v1).
  std::string base_url = "http://127.0.0.1:8080/v1";
  std::string model = "default";  ///< the server's model name (llama.cpp's server accepts any)
  std::string api_key = {};       ///< sent as "Authorization: Bearer <key>" when not empty
  double temperature = 0.0;       ///< 0: the most likely answer, reproducible
  Index max_tokens = 512;         ///< of the answer
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{60000};      ///< for the next bytes of the answer: generation can take long
  std::chrono::milliseconds attempt_timeout{300000};  ///< one attempt in all: connect, send, generate, read
  std::size_t max_response_bytes = 16u << 20;         ///< a longer answer is a FormatError
  int max_retries = 2;                                ///< after the first attempt
  std::chrono::milliseconds initial_backoff{250};
  std::string system_prompt =
      "Answer the question using only the numbered passages below. After each statement, cite the passages it "
      "comes from as [1], [2]. If the passages do not contain the answer, say so.";
};

class OpenAIChatGenerator {
 public:
  explicit OpenAIChatGenerator(OpenAIChatOptions options = {}) : options_(std::move(options)) {
    constexpr std::string_view where = "OpenAIChatGenerator";
    const std::string& url = options_.base_url;
    const std::size_t scheme_end = url.find("://");
    require(scheme_end != std::string::npos && (url.starts_with("http://") || url.starts_with("https://")), where,
            [&] { return "base_url must start with http:// or https://, got '" + url + "'"; });
    const std::size_t path_start = url.find('/', scheme_end + 3);
    origin_ = url.substr(0, path_start);
    require(origin_.size() > scheme_end + 3, where, [&] { return "base_url has no host: '" + url + "'"; });
    path_ = path_start == std::string::npos ? "" : url.substr(path_start);
    while (!path_.empty() && path_.back() == '/') path_.pop_back();
    path_ += "/chat/completions";
    require(!options_.model.empty(), where, "model is empty");
    require(options_.max_tokens >= 1, where,
            [&] { return "max_tokens must be at least 1, got " + std::to_string(options_.max_tokens); });
    require(options_.temperature >= 0 && options_.temperature <= 2, where,
            [&] { return "temperature must be in [0, 2], got " + std::to_string(options_.temperature); });
    require(options_.max_retries >= 0, where,
            [&] { return "max_retries must be at least 0, got " + std::to_string(options_.max_retries); });
    require(options_.connect_timeout.count() > 0 && options_.read_timeout.count() > 0 &&
                options_.attempt_timeout.count() > 0,
            where, "the timeouts must be positive");
    require(options_.max_response_bytes >= 1, where, "max_response_bytes must be at least 1");
    require(options_.initial_backoff.count() >= 0, where, "initial_backoff must not be negative");
  }

  [[nodiscard]] const OpenAIChatOptions& options() const noexcept { return options_; }
  /// The URL requests go to: base_url + "/chat/completions".
  [[nodiscard]] std::string endpoint() const { return origin_ + path_; }

  /// The chat-completions request body for a question and its context.
  [[nodiscard]] JsonValue request_body(std::string_view question, const AssembledContext& context) const {
    const std::string user = "Passages:\n" + context.text + "\n\nQuestion: " + std::string(question);
    return JsonValue::object(
        {{"model", options_.model},
         {"temperature", options_.temperature},
         {"max_tokens", options_.max_tokens},
         {"stream", false},
         {"messages", JsonValue::array({JsonValue::object({{"role", "system"}, {"content", options_.system_prompt}}),
                                        JsonValue::object({{"role", "user"}, {"content", user}})})}});
  }

  [[nodiscard]] GeneratedAnswer generate(std::string_view question, const AssembledContext& context) {
    const std::string body = request_body(question, context).dump();
    GeneratedAnswer answer;
    answer.text = answer_text(post_with_retries(body));
    answer.cited = cited_labels(answer.text, static_cast<Index>(context.passages.size()));
    return answer;
  }

  /// The distinct labels "[n]" in `text` with 1 ≤ n ≤ passages, ascending.
  [[nodiscard]] static std::vector<Index> cited_labels(std::string_view text, Index passages) {
    std::vector<Index> cited;
    for (std::size_t open = text.find('['); open != std::string_view::npos; open = text.find('[', open + 1)) {
      std::size_t i = open + 1;
      Index n = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n <= passages) n = n * 10 + (text[i++] - '0');
      if (i > open + 1 && i < text.size() && text[i] == ']' && n >= 1 && n <= passages) cited.push_back(n);
    }
    std::sort(cited.begin(), cited.end());
    cited.erase(std::unique(cited.begin(), cited.end()), cited.end());
    return cited;
  }

 private:
  /// One attempt's answer: the status (nullopt: none, `failure` says why) and the body.
  struct Attempt {
    std::optional<int> status;
    std::string body, failure;
    std::chrono::seconds retry_after{0};  // the answer's Retry-After (delay-seconds form), 0 without one
  };

  /// Retry-After's delay-seconds (RFC 9110 10.2.3) when it is 1 to 60; 0 otherwise (absent, a date, larger).
  static std::chrono::seconds retry_after_of(const std::string& value) {
    long seconds = 0;
    for (const char c : value) {
      if (c < '0' || c > '9' || seconds > 60) return std::chrono::seconds(0);
      seconds = seconds * 10 + (c - '0');
    }
    return std::chrono::seconds(seconds <= 60 ? seconds : 0);
  }

  // One POST, bounded in time (attempt_timeout: a watchdog stops the client, as often as it takes, once the
  // time is up) and in size (max_response_bytes: the body is received piece by piece and refused beyond).
  Attempt post_once(httplib::Client& client, const httplib::Request& prototype) const {
    Attempt a;
    bool too_long = false;
    httplib::Request request = prototype;
    request.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (n > options_.max_response_bytes - a.body.size()) return !(too_long = true);
      a.body.append(data, n);
      return true;
    };
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false, expired = false;
    std::thread watchdog([&] {
      std::unique_lock lock(mutex);
      if (finished.wait_for(lock, options_.attempt_timeout, [&] { return done; })) return;
      expired = true;
      // A stop that comes before the connection exists has nothing to stop: repeat it until the attempt ends.
      do client.stop();
      while (!finished.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; }));
    });
    // cpp-httplib's client (0.11) writes without MSG_NOSIGNAL: a server that closed the kept-alive connection
    // this request goes out on would end the process with SIGPIPE. Blocked, the write fails and is retried.
    const httplib::Result result = [&] {
      const detail::SigpipeBlock no_sigpipe;
      return client.send(request);
    }();
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    finished.notify_one();
    watchdog.join();
    if (too_long)
      throw FormatError("OpenAIChatGenerator: the answer of " + endpoint() + " exceeds max_response_bytes (" +
                        std::to_string(options_.max_response_bytes) + ")");
    if (result) {
      a.status = result->status;
      a.retry_after = retry_after_of(result->get_header_value("Retry-After"));
    } else {
      a.failure = expired
                      ? "no answer within attempt_timeout (" + std::to_string(options_.attempt_timeout.count()) + " ms)"
                      : "no answer (" + httplib::to_string(result.error()) + ")";
    }
    return a;
  }

  // Retryable: no answer at all (connection refused, reset, timed out), 429 and 5xx. Returns the body.
  std::string post_with_retries(const std::string& body) const {
    httplib::Client client(origin_);
    client.set_connection_timeout(options_.connect_timeout);
    client.set_read_timeout(options_.read_timeout);
    client.set_write_timeout(options_.read_timeout);
    httplib::Request request;
    request.method = "POST";
    request.path = path_;
    request.body = body;
    request.set_header("Content-Type", "application/json");
    if (!options_.api_key.empty()) request.set_header("Authorization", "Bearer " + options_.api_key);
    std::chrono::milliseconds backoff = options_.initial_backoff;
    std::string last_failure;
    const int attempts = options_.max_retries + 1;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      Attempt result = post_once(client, request);
      if (result.status && *result.status >= 200 && *result.status < 300) return std::move(result.body);
      if (!result.status) {
        last_failure = result.failure;
      } else {
        last_failure = "HTTP " + std::to_string(*result.status) + error_message_of(result.body);
        if (*result.status != 429 && *result.status < 500)
          throw ConnectionError("OpenAIChatGenerator: " + endpoint() + " answered " + last_failure);
      }
      if (attempt < attempts) {
        std::this_thread::sleep_for(std::max<std::chrono::milliseconds>(backoff, result.retry_after));
        backoff *= 2;
      }
    }
    throw ConnectionError("OpenAIChatGenerator: " + endpoint() + " failed after " + std::to_string(attempts) +
                          (attempts == 1 ? " attempt" : " attempts") + ": " + last_failure);
  }

  /// The document in `body`, or nothing when it is not JSON.
  static std::optional<JsonValue> parse_json(const std::string& body) {
    try {
      return JsonValue::parse(body);
    } catch (const FormatError&) {
      return std::nullopt;
    }
  }

  // ": <message>" from an OpenAI error body {"error": {"message": ...}}, or a short prefix of the body.
  static std::string error_message_of(const std::string& body) {
    if (const std::optional<JsonValue> j = parse_json(body))
      if (const JsonValue* e = j->find("error")) {
        if (const JsonValue* message = e->find("message"); message != nullptr && message->is_string())
          return ": " + message->as_string();
        if (e->is_string()) return ": " + e->as_string();
      }
    return body.empty() ? "" : ": " + body.substr(0, 200);
  }

  static std::string answer_text(const std::string& body) {
    const auto bad = [](const std::string& what) {
      return FormatError("OpenAIChatGenerator: the server's answer is not a chat completion: " + what);
    };
    const std::optional<JsonValue> j = parse_json(body);
    if (!j) throw bad("not JSON");
    const JsonValue* choices = j->find("choices");
    if (choices == nullptr || !choices->is_array() || choices->empty()) throw bad("no 'choices'");
    const JsonValue* message = choices->at(0).find("message");
    if (message == nullptr || !message->is_object()) throw bad("choices[0] has no 'message'");
    const JsonValue* content = message->find("content");
    if (content == nullptr || !content->is_string()) throw bad("choices[0].message has no text 'content'");
    return content->as_string();
  }

  OpenAIChatOptions options_;
  std::string origin_;  ///< scheme://host[:port]
  std::string path_;    ///< /v1/chat/completions
};

}  // namespace aimastery
