// The line a bench program prints for bench/run.mjs to read, in the form of
// bench/ingest.lua's:
//   BENCH requests=N seconds=S rps=R errors=E non2xx=0 p50_ms=… p99_ms=…
//         p999_ms=… max_ms=… [extra]
// Percentiles are nearest-rank over every sample. Header-only: the bench
// programs link nothing of printmeter's.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// `extra`: further key=value figures, space separated (may be empty).
inline void PrintBenchLine(const std::vector<double>& latencies_ms,
                           double seconds, int errors,
                           const std::string& extra = "") {
  const double max_ms =
      latencies_ms.empty()
          ? 0
          : *std::max_element(latencies_ms.begin(), latencies_ms.end());
  std::printf(
      "BENCH requests=%zu seconds=%.3f rps=%.1f errors=%d non2xx=0 "
      "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f%s%s\n",
      latencies_ms.size(), seconds,
      static_cast<double>(latencies_ms.size()) / seconds, errors,
      Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99),
      Percentile(latencies_ms, 0.999), max_ms, extra.empty() ? "" : " ",
      extra.c_str());
}

}  // namespace bench
