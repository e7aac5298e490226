// Decode speed per encoding, on the six seed bodies (a real printer's
// requests), and the floor it is measured against: boost::json::parse of
// the same JSON body, in the same run.
//
//   build-decode/src/decode/decode_bench
//
// "per_request" is the CPU time per request (per body decoded), in seconds
// with an SI prefix (u = microseconds).
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "decode/decode.h"
#include "decode/test_request.h"

namespace pm {
namespace {

using testing::OwnedRequest;

const char* const kSeeds[] = {
    "seed/01-octoprint-print-started.json",
    "seed/02-octoprint-print-done.json",
    "seed/03-sdcard-print-started.json",
    "seed/04-sdcard-print-done.json",
    "seed/05-printer-print-stopped.json",
    "seed/06-octoprint-print-stopped.json",
};

std::vector<std::string> SeedBodies() {
  std::vector<std::string> bodies;
  for (const char* seed : kSeeds) {
    bodies.push_back(
        testing::ReadFile(std::string(PM_FIXTURES_DIR) + "/" + seed));
  }
  return bodies;
}

// A 100 KB stand-in for a webcam JPEG: every byte value, CRs and dashes
// included, so the boundary search works as hard as on a real picture.
std::string Picture() {
  std::string jpeg = "\xFF\xD8\xFF\xE0";
  for (size_t i = 0; jpeg.size() < 100 * 1024 - 2; ++i) {
    jpeg.push_back(static_cast<char>((i * 7919) >> 3));
  }
  return jpeg + "\xFF\xD9";
}

enum class Encoding { kJson, kMultipart, kForm, kQuery, kMultipartSnapshot };

std::vector<OwnedRequest> Requests(Encoding encoding) {
  std::vector<OwnedRequest> requests;
  for (const std::string& body : SeedBodies()) {
    switch (encoding) {
      case Encoding::kJson:
        requests.push_back(testing::AsJson(body));
        break;
      case Encoding::kMultipart:
        requests.push_back(testing::AsMultipart(body, std::nullopt));
        break;
      case Encoding::kForm:
        requests.push_back(testing::AsForm(body));
        break;
      case Encoding::kQuery:
        requests.push_back(testing::AsQuery(body));
        break;
      case Encoding::kMultipartSnapshot:
        requests.push_back(testing::AsMultipart(body, Picture()));
        break;
    }
  }
  return requests;
}

void PerRequest(benchmark::State& state, size_t requests) {
  state.counters["per_request"] =
      benchmark::Counter(static_cast<double>(requests),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

void BM_Decode(benchmark::State& state, Encoding encoding) {
  const std::vector<OwnedRequest> requests = Requests(encoding);
  std::vector<Request> views;
  for (const OwnedRequest& r : requests) views.push_back(r.View(1));
  for (auto _ : state) {
    for (const Request& request : views) {
      auto decoded = Decode(request);
      if (!decoded.ok()) {
        state.SkipWithError(decoded.error().message.c_str());
        return;
      }
      benchmark::DoNotOptimize(decoded);
    }
  }
  PerRequest(state, views.size());
}
BENCHMARK_CAPTURE(BM_Decode, json, Encoding::kJson);
BENCHMARK_CAPTURE(BM_Decode, multipart, Encoding::kMultipart);
BENCHMARK_CAPTURE(BM_Decode, form_urlencoded, Encoding::kForm);
BENCHMARK_CAPTURE(BM_Decode, query_string, Encoding::kQuery);
BENCHMARK_CAPTURE(BM_Decode, multipart_100k_snapshot,
                  Encoding::kMultipartSnapshot);

// The peer: parsing the same JSON bodies into a DOM, nothing else.
void BM_BoostJsonParse(benchmark::State& state) {
  const std::vector<std::string> bodies = SeedBodies();
  for (auto _ : state) {
    for (const std::string& body : bodies) {
      benchmark::DoNotOptimize(boost::json::parse(body));
    }
  }
  PerRequest(state, bodies.size());
}
BENCHMARK(BM_BoostJsonParse);

}  // namespace
}  // namespace pm

BENCHMARK_MAIN();
