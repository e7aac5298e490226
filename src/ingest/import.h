// Import: recorded webhook requests -> the ingest writer, exactly as if they
// had been posted to the receiver (`printmeter import`).
//
// A file holds one JSON body, JSON lines (one body per line), or one raw HTTP
// request as captured on the wire (`POST /webhook HTTP/1.1` ...), like the
// `.http` fixtures.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "decode/decode.h"
#include "ingest/writer.h"

namespace pm {

// One request as recorded.
struct RecordedRequest {
  std::string where;  // "FILE" or "FILE:LINE", for messages
  std::string method = "POST";
  std::string target = "/webhook";
  std::string content_type = "application/json";
  std::string authorization;
  std::string api_key;
  std::string body;
};

// Reads the requests recorded in one file, one at a time, so that a file of
// any size is imported in the memory of one request: JSON lines a line at a
// time; a raw HTTP request, or one JSON document spread over lines, whole
// (up to 64 MiB: the largest request printmeter reads).
//
// Which of the three a file holds: a raw request starts with its method; a
// file whose first non-blank line is a JSON value by itself, and which has
// more, is JSON lines (each line answers for itself: a bad line is rejected
// by the decoder, as a bad body would be); otherwise the whole file is one JSON
// document if it parses as one, else JSON lines again. A pipe is read once:
// JSON lines only (or a single line). A line longer than 64 MiB ends the
// reading with an error (a binary file, say).
class RecordedRequestReader {
 public:
  // An error names the file and what is wrong with it.
  static Result<std::unique_ptr<RecordedRequestReader>> Open(
      const std::string& path);
  // The next request, nullopt after the last. `where` is "FILE" for a file
  // of one request, "FILE:LINE" for a line of several.
  Result<std::optional<RecordedRequest>> Next();

  ~RecordedRequestReader();
  RecordedRequestReader(const RecordedRequestReader&) = delete;
  RecordedRequestReader& operator=(const RecordedRequestReader&) = delete;

 private:
  RecordedRequestReader() = default;
  // The next non-blank line into `line` (without its line end) and its
  // number; false at the end of the file. A line longer than 64 MiB, or a
  // read that fails, is an error.
  Result<bool> NextLine(std::string& line, int& number);

  std::string path_;
  int fd_ = -1;  // read(2) gives what a pipe has so far, not a full block
  std::string buffer_;  // read from fd_, not yet taken into lines
  size_t pos_ = 0;      // where the next line starts in buffer_
  std::optional<RecordedRequest> whole_;  // a file of one request, until read
  bool lines_ = false;
  // JSON lines: lines read ahead (Open reads two to tell a file of one
  // body from JSON lines), with their numbers.
  std::deque<std::pair<std::string, int>> ahead_;
  int line_ = 0;  // lines read so far
};

// Reads every request recorded in `path` at once (for small files and
// tests; `import` streams them with RecordedRequestReader).
Result<std::vector<RecordedRequest>> ReadRecordedRequests(
    const std::string& path);

// The requests to import, one at a time: nullopt after the last.
using RequestSource = std::function<Result<std::optional<RecordedRequest>>()>;

// The requests recorded in `files`, one file after the other, each opened
// when the one before is done (RecordedRequestReader).
RequestSource RequestsOfFiles(std::vector<std::string> files);

struct ImportSummary {
  int64_t stored = 0;      // new events (folded into the ledger)
  int64_t duplicates = 0;  // stored, flagged duplicate
  int64_t tests = 0;       // stored, test events
  int64_t rejected = 0;
  std::map<std::string, int64_t> reasons;  // rejection message -> count
};

// Decodes each request (receive time: `clock`) and ingests it through
// `writer`, in order, a window of 256 at a time (so they share commits;
// no more are held at once). `progress` is called with the count done so
// far. Fails only when `next` does (a file that cannot be read on): what
// was ingested before stays.
Result<ImportSummary> ImportRequests(
    const RequestSource& next, IngestWriter& writer, const Clock& clock,
    const DecodeLimits& limits, const std::function<void(int64_t)>& progress);
ImportSummary ImportRequests(const std::vector<RecordedRequest>& requests,
                             IngestWriter& writer, const Clock& clock,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress);

}  // namespace pm
