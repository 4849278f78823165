// libFuzzer target for the HTTP/1.1 request parser (aimastery/production/serving/http_request.hpp).
//
// Any bytes must give a consistent answer: complete (the request and its body inside the input, within the
// limits), incomplete, or refused with one of the documented statuses; then the parser runs again on what
// follows a complete request, as a server does with pipelined requests. The parser throws nothing; a crash,
// a sanitizer report, a hang or a large allocation is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aimastery/production/serving/http_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aimastery;
  HttpLimits limits;
  limits.max_head_bytes = 2048;
  limits.max_fields = 16;
  limits.max_body_bytes = 1024;
  HttpRequest request;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    const HttpParseResult r = parse_http_request(rest, limits, request);
    if (r.state == HttpParseState::refused) {
      const int s = r.status;
      if (s != 400 && s != 413 && s != 417 && s != 431 && s != 501 && s != 505) std::abort();
      if (r.head_complete && r.total_bytes < r.head_bytes) std::abort();
      return 0;
    }
    if (r.state == HttpParseState::incomplete) {
      if (rest.size() > limits.max_head_bytes + (r.head_complete ? r.total_bytes : 0)) std::abort();
      return 0;
    }
    const char* begin = rest.data();
    const char* end = begin + rest.size();
    const bool inside = request.body.data() >= begin && request.body.data() + request.body.size() <= end;
    if (r.total_bytes > rest.size() || request.body.size() != request.content_length || !inside ||
        request.content_length > limits.max_body_bytes || r.head_bytes > limits.max_head_bytes ||
        request.path.empty() || request.path.front() != '/' || request.fields.size() > limits.max_fields ||
        (request.minor_version != 0 && request.minor_version != 1))
      std::abort();
    (void)request.field("Content-Type");
    rest.remove_prefix(r.total_bytes);
  }
  return 0;
}
