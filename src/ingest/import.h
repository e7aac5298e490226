// Import: recorded webhook requests -> the ingest writer, exactly as if they
// had been posted to the receiver (`printmeter import`).
//
// A file holds one JSON body, JSON lines (one body per line), or one raw HTTP
// request as captured on the wire (`POST /webhook HTTP/1.1` ...), like the
// `.http` fixtures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
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

// Reads the requests recorded in `path`. An error names the file and what
// is wrong with it.
Result<std::vector<RecordedRequest>> ReadRecordedRequests(
    const std::string& path);

struct ImportSummary {
  int64_t stored = 0;      // new events (folded into the ledger)
  int64_t duplicates = 0;  // stored, flagged duplicate
  int64_t tests = 0;       // stored, test events
  int64_t rejected = 0;
  std::map<std::string, int64_t> reasons;  // rejection message -> count
};

// Decodes each request (receive time: `clock`) and ingests it through
// `writer`, in order, a window at a time (so they share commits).
// `progress` is called with the count done so far.
ImportSummary ImportRequests(const std::vector<RecordedRequest>& requests,
                             IngestWriter& writer, const Clock& clock,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress);

}  // namespace pm
