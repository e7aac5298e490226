#include "ingest/import.h"

#include <fmt/format.h>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace pm {

namespace {

namespace http = boost::beast::http;

bool LooksLikeRawHttp(std::string_view text) {
  for (std::string_view m : {"POST ", "PUT ", "GET ", "DELETE "}) {
    if (text.starts_with(m)) return true;
  }
  return false;
}

Result<RecordedRequest> ParseRawHttp(const std::string& path,
                                     const std::string& text) {
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 << 20);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec) {
    return Invalid(fmt::format("{}: not a valid HTTP request: {}", path,
                               ec.message()));
  }
  const auto& req = parser.get();
  RecordedRequest r;
  r.where = path;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.content_type = std::string(req[http::field::content_type]);
  r.authorization = std::string(req[http::field::authorization]);
  r.api_key = std::string(req["X-Api-Key"]);
  r.body = req.body();
  return r;
}

std::vector<RecordedRequest> SplitJsonLines(const std::string& path,
                                            const std::string& text) {
  std::vector<RecordedRequest> out;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    RecordedRequest r;
    r.where = fmt::format("{}:{}", path, n);
    r.body = std::move(line);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<std::vector<RecordedRequest>> ReadRecordedRequests(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Invalid(fmt::format("cannot read {}: {}", path,
                               std::strerror(errno)));
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (LooksLikeRawHttp(text)) {
    auto r = ParseRawHttp(path, text);
    if (!r) return r.error();
    return std::vector<RecordedRequest>{std::move(*r)};
  }
  // One JSON document (pretty-printed or not) is one body; anything else is
  // read as JSON lines, and each line answers for itself.
  boost::json::error_code ec;
  boost::json::parse(text, ec);
  if (!ec) {
    RecordedRequest r;
    r.where = path;
    r.body = std::move(text);
    return std::vector<RecordedRequest>{std::move(r)};
  }
  return SplitJsonLines(path, text);
}

ImportSummary ImportRequests(const std::vector<RecordedRequest>& requests,
                             IngestWriter& writer, const Clock& clock,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress) {
  constexpr size_t kWindow = 256;  // requests in flight at once
  ImportSummary summary;
  std::mutex mu;
  std::condition_variable idle;
  size_t in_flight = 0;
  int64_t done = 0;
  auto reject = [&](const std::string& where, const Error& error) {
    // Caller holds mu.
    ++summary.rejected;
    ++summary.reasons[error.message];
    if (summary.rejected <= 10) {
      fmt::print(stderr, "{}: rejected: {}\n", where, error.message);
    }
  };
  for (const RecordedRequest& r : requests) {
    Request request;
    request.method = r.method;
    request.target = r.target;
    request.content_type = r.content_type;
    request.authorization = r.authorization;
    request.api_key = r.api_key;
    request.body = r.body;
    request.received_at = clock.Now();
    auto decoded = Decode(request, limits);
    std::unique_lock lock(mu);
    idle.wait(lock, [&] { return in_flight < kWindow; });
    if (!decoded) {
      reject(r.where, decoded.error());
      int64_t so_far = ++done;
      lock.unlock();
      if (progress) progress(so_far);
      continue;
    }
    ++in_flight;
    lock.unlock();
    IngestItem item;
    item.decoded = std::move(*decoded);
    item.request =
        StoredRequest{r.method, r.target, r.content_type, r.body};
    writer.Submit(std::move(item), [&, where = r.where](Result<Verdict> v) {
      std::lock_guard guard(mu);
      if (!v) {
        reject(where, v.error());
      } else if (v->test) {
        ++summary.tests;
      } else if (v->duplicate) {
        ++summary.duplicates;
      } else {
        ++summary.stored;
      }
      ++done;
      --in_flight;
      idle.notify_all();
    });
    if (progress) {
      lock.lock();
      int64_t so_far = done;
      lock.unlock();
      progress(so_far);
    }
  }
  std::unique_lock lock(mu);
  idle.wait(lock, [&] { return in_flight == 0; });
  if (progress) progress(done);
  return summary;
}

}  // namespace pm
