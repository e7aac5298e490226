#include "ingest/import.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

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

// The largest file read whole (a raw request, one JSON document): the
// largest request printmeter reads (a picture's multipart body included).
constexpr size_t kMaxWholeFile = 64 << 20;

bool ParsesAsJson(std::string_view text) {
  boost::json::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

// The whole file at `path`, read on its own stream; nullopt when it is not
// a regular file (a pipe is read once, as JSON lines) or is larger than
// kMaxWholeFile.
std::optional<std::string> ReadWhole(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxWholeFile) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in && !in.eof()) return std::nullopt;
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

}  // namespace

Result<std::unique_ptr<RecordedRequestReader>> RecordedRequestReader::Open(
    const std::string& path) {
  std::unique_ptr<RecordedRequestReader> r(new RecordedRequestReader);
  r->path_ = path;
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) {
    return Invalid(fmt::format("cannot read {}: {}", path,
                               std::strerror(errno)));
  }
  std::string first;
  int number = 0;
  auto got = r->NextLine(first, number);
  if (!got) return got.error();
  if (!*got) {
    r->lines_ = true;  // nothing but blank lines: nothing to import
    return r;
  }
  if (number == 1 && LooksLikeRawHttp(first)) {
    auto text = ReadWhole(path);
    if (!text) {
      return Invalid(fmt::format(
          "{}: a raw HTTP request is read whole: give it as a file of at "
          "most {} MiB (not a pipe)",
          path, kMaxWholeFile >> 20));
    }
    auto request = ParseRawHttp(path, *text);
    if (!request) return request.error();
    r->whole_ = std::move(*request);
    return r;
  }
  const bool json = ParsesAsJson(first);
  if (json) {
    std::string second;
    int second_number = 0;
    auto more = r->NextLine(second, second_number);
    if (!more) return more.error();
    if (*more) {
      r->lines_ = true;
      r->ahead_.emplace_back(std::move(first), number);
      r->ahead_.emplace_back(std::move(second), second_number);
      return r;
    }
  }
  // One JSON document (pretty-printed or not) is one body, taken whole as
  // it would be posted; anything else is read as JSON lines, and each line
  // answers for itself.
  if (auto text = ReadWhole(path); text && ParsesAsJson(*text)) {
    RecordedRequest request;
    request.where = path;
    request.body = std::move(*text);
    r->whole_ = std::move(request);
    return r;
  }
  if (json) {  // a pipe of one line
    RecordedRequest request;
    request.where = path;
    request.body = std::move(first);
    r->whole_ = std::move(request);
    return r;
  }
  r->lines_ = true;
  r->ahead_.emplace_back(std::move(first), number);
  return r;
}

Result<bool> RecordedRequestReader::NextLine(std::string& line, int& number) {
  for (;;) {
    line.clear();
    bool got = false;  // a line, even an empty one, or the last one's text
    for (;;) {
      if (pos_ == buffer_.size()) {
        buffer_.resize(64 << 10);
        ssize_t n;
        do {
          n = ::read(fd_, buffer_.data(), buffer_.size());
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
          return Invalid(fmt::format("cannot read {} after line {}: {}",
                                     path_, line_, std::strerror(errno)));
        }
        buffer_.resize(static_cast<size_t>(n));
        pos_ = 0;
        if (buffer_.empty()) break;  // the end of the file
      }
      const char* start = buffer_.data() + pos_;
      const size_t left = buffer_.size() - pos_;
      const char* newline =
          static_cast<const char*>(std::memchr(start, '\n', left));
      const size_t n = newline ? static_cast<size_t>(newline - start) : left;
      if (line.size() + n > kMaxWholeFile) {
        return Invalid(fmt::format(
            "{}:{}: a line longer than {} MiB: not JSON lines (one request "
            "per line), nor a request printmeter reads",
            path_, line_ + 1, kMaxWholeFile >> 20));
      }
      line.append(start, n);
      pos_ += n;
      got = got || n > 0;
      if (newline) {
        ++pos_;
        got = true;
        break;
      }
    }
    if (!got) return false;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    number = line_;
    return true;
  }
}

RecordedRequestReader::~RecordedRequestReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::optional<RecordedRequest>> RecordedRequestReader::Next() {
  if (whole_) {
    std::optional<RecordedRequest> r = std::move(whole_);
    whole_.reset();
    return r;
  }
  if (!lines_) return std::optional<RecordedRequest>();
  if (ahead_.empty()) {
    std::string line;
    int number = 0;
    auto got = NextLine(line, number);
    if (!got) return got.error();
    if (*got) ahead_.emplace_back(std::move(line), number);
  }
  if (ahead_.empty()) return std::optional<RecordedRequest>();
  RecordedRequest r;
  r.where = fmt::format("{}:{}", path_, ahead_.front().second);
  r.body = std::move(ahead_.front().first);
  ahead_.pop_front();
  return std::optional<RecordedRequest>(std::move(r));
}

Result<std::vector<RecordedRequest>> ReadRecordedRequests(
    const std::string& path) {
  auto reader = RecordedRequestReader::Open(path);
  if (!reader) return reader.error();
  std::vector<RecordedRequest> out;
  for (;;) {
    auto next = (*reader)->Next();
    if (!next) return next.error();
    if (!*next) return out;
    out.push_back(std::move(**next));
  }
}

RequestSource RequestsOfFiles(std::vector<std::string> files) {
  struct State {
    std::vector<std::string> files;
    size_t next_file = 0;
    std::unique_ptr<RecordedRequestReader> reader;
  };
  auto state = std::make_shared<State>();
  state->files = std::move(files);
  return [state]() -> Result<std::optional<RecordedRequest>> {
    for (;;) {
      if (!state->reader) {
        if (state->next_file == state->files.size()) {
          return std::optional<RecordedRequest>();
        }
        auto opened =
            RecordedRequestReader::Open(state->files[state->next_file++]);
        if (!opened) return opened.error();
        state->reader = std::move(*opened);
      }
      auto r = state->reader->Next();
      if (!r || *r) return r;
      state->reader.reset();
    }
  };
}

Result<ImportSummary> ImportRequests(
    const RequestSource& next, IngestWriter& writer, const Clock& clock,
    const DecodeLimits& limits, const std::function<void(int64_t)>& progress) {
  constexpr size_t kWindow = 256;  // requests in flight at once
  ImportSummary summary;
  std::optional<Error> failed;
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
  for (;;) {
    auto read = next();
    if (!read) {
      failed = read.error();
      break;
    }
    if (!*read) break;
    RecordedRequest& r = **read;
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
    item.request = StoredRequest{std::move(r.method), std::move(r.target),
                                 std::move(r.content_type), std::move(r.body)};
    writer.Submit(std::move(item), [&, where = std::move(r.where)](
                                       Result<Verdict> v) {
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
  if (failed) return *failed;
  return summary;
}

ImportSummary ImportRequests(const std::vector<RecordedRequest>& requests,
                             IngestWriter& writer, const Clock& clock,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress) {
  size_t i = 0;
  auto next = [&]() -> Result<std::optional<RecordedRequest>> {
    if (i == requests.size()) return std::optional<RecordedRequest>();
    return std::optional<RecordedRequest>(requests[i++]);
  };
  // A vector cannot fail to be read on.
  return *ImportRequests(next, writer, clock, limits, progress);
}

}  // namespace pm
